#!/usr/bin/env python3
"""The official OpenAI and Anthropic Python SDKs against `anymodel serve`.

Usage: scripts/sdk-check.py BASE_URL MODEL KEY [EMBEDDER]  (BASE_URL without /v1, e.g.
http://127.0.0.1:8080; EMBEDDER: a served embedder, checked through `embeddings.create`)

Runs a whole and a streamed reply through each SDK, JSON Schema output through OpenAI's, lists
the models through both, and checks an error comes back as the SDK's own exception class.
"""
import json
import sys

import anthropic
import openai

base, model, key = sys.argv[1], sys.argv[2], sys.argv[3]
embedder = sys.argv[4] if len(sys.argv) > 4 else None
question = [{"role": "user", "content": "What is the capital of France? One word."}]

oa = openai.OpenAI(base_url=f"{base}/v1", api_key=key)
whole = oa.chat.completions.create(model=model, messages=question, max_tokens=16, temperature=0)
assert whole.choices[0].message.content, whole
assert whole.usage.completion_tokens > 0, whole.usage
pieces = [c.choices[0].delta.content or "" for c in oa.chat.completions.create(
    model=model, messages=question, max_tokens=16, temperature=0, stream=True,
    stream_options={"include_usage": True}) if c.choices]
assert "".join(pieces) == whole.choices[0].message.content, (pieces, whole)
schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
          "additionalProperties": False}
typed = oa.chat.completions.create(
    model=model, messages=question, max_tokens=40,
    response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema, "strict": True}})
assert isinstance(json.loads(typed.choices[0].message.content)["city"], str), typed
assert [m.id for m in oa.models.list()] == sorted([model] + ([embedder] if embedder else []))
if embedder:
    # The SDK asks for base64 and decodes it; floats when asked.
    packed = oa.embeddings.create(model=embedder, input=["descale monthly", "the warranty"])
    floats = oa.embeddings.create(model=embedder, input="descale monthly", encoding_format="float")
    assert len(packed.data) == 2 and len(packed.data[0].embedding) == 384, packed
    assert max(abs(a - b) for a, b in zip(packed.data[0].embedding, floats.data[0].embedding)) < 1e-6
try:
    oa.chat.completions.create(model="no-such-model", messages=question)
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as error:
    assert "no-such-model" in str(error), error
first = oa.responses.create(model=model, input="What is the capital of France? One word.",
                            max_output_tokens=16, temperature=0)
assert first.status in ("completed", "incomplete") and first.output_text, first
deltas, completed = [], None
for event in oa.responses.create(model=model, input="What is the capital of France? One word.",
                                 max_output_tokens=16, temperature=0, stream=True):
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
    elif event.type in ("response.completed", "response.incomplete"):
        completed = event.response
assert "".join(deltas) == first.output_text == completed.output_text, (deltas, first.output_text)
follow = oa.responses.create(model=model, previous_response_id=first.id, input="And of Italy?",
                             max_output_tokens=16, temperature=0)
assert follow.output_text, follow
print("openai SDK", openai.__version__, "ok:", whole.choices[0].message.content.strip(), "/", first.output_text.strip())

an = anthropic.Anthropic(base_url=base, api_key=key)
message = an.messages.create(model=model, max_tokens=16, messages=question, extra_body={"temperature": 0})
text = "".join(block.text for block in message.content if block.type == "text")
assert text and message.stop_reason in ("end_turn", "max_tokens"), message
with an.messages.stream(model=model, max_tokens=16, messages=question, extra_body={"temperature": 0}) as stream:
    streamed = "".join(stream.text_stream)
    final = stream.get_final_message()
assert streamed == text, (streamed, text)
assert final.usage.output_tokens > 0, final.usage
try:
    an.messages.create(model="no-such-model", max_tokens=5, messages=question)
    raise AssertionError("an unknown model was accepted")
except anthropic.NotFoundError as error:
    assert "no-such-model" in str(error), error
print("anthropic SDK", anthropic.__version__, "ok:", text.strip())
