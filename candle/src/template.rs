//! Chat templates: the model's own `tokenizer.chat_template`, rendered with minijinja as Hugging
//! Face renders it with jinja2, or a built-in Llama 3 or ChatML template when the file has none.
//!
//! Many templates have no place for tools and drop them without a word (SmolLM2's is plain
//! ChatML). [`ChatTemplate::render`] detects that (the prompt with tools equals the one without)
//! and puts the tool definitions into the system prompt in the family's own format instead.

use std::io;

use anymodel_core::{Error, Message, Result, ToolSpec};
use minijinja::value::{Serde, Value as Jinja};
use minijinja::{Environment, ErrorKind, context};
use serde_json::{Value, json};

use crate::family::{self, Family};

/// The most instructions one rendering may run: real templates take a few thousand per
/// message, and this many take about a second.
const TEMPLATE_FUEL: u64 = 20_000_000;

/// A compiled chat template, with the tokens it refers to and the family whose tool calls it
/// writes.
#[derive(Debug)]
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    family: &'static dyn Family,
    thinks: bool,
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token` and `eos_token` are what the template sees under those
    /// names. A template that does not compile is a configuration error naming the line.
    pub(crate) fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|err| Error::config(format!("chat template syntax: {err}")))?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // A template comes with the model file: one that loops without end (or nearly) runs
        // out of fuel and fails, instead of hanging the call.
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.add_filter("tojson", tojson);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned("chat", source.to_string())
            .map_err(|err| Error::config(format!("the chat template does not compile: {err:#}")))?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            family: family::of_template(source),
            thinks: source.contains(crate::reasoning::OPEN),
        })
    }

    /// Whether the template writes `<think>` tags: its models reason inside them before they
    /// answer, and the reasoning is parted from the answer.
    pub(crate) fn thinks(&self) -> bool {
        self.thinks
    }

    /// The template's family.
    pub(crate) fn family(&self) -> &'static dyn Family {
        self.family
    }

    /// The prompt for `messages`, ending with the assistant's header when
    /// `add_generation_prompt` is set. Tools the template would drop are put into the system
    /// prompt in the family's format.
    pub(crate) fn render(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let with_tools = self.render_raw(messages, tools, add_generation_prompt)?;
        if tools.is_empty()
            || with_tools != self.render_raw(messages, &[], add_generation_prompt)?
        {
            return Ok(with_tools);
        }
        let mut messages = messages.to_vec();
        let instructions = tool_instructions(self.family, tools);
        match messages.first_mut() {
            Some(Message::System { content }) => *content = format!("{content}\n\n{instructions}"),
            _ => messages.insert(0, Message::system(instructions)),
        }
        self.render_raw(&messages, &[], add_generation_prompt)
    }

    fn render_raw(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let template =
            self.env.get_template("chat").map_err(|err| Error::config(err.to_string()))?;
        let tools: Option<Vec<Value>> = (!tools.is_empty()).then(|| {
            tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
                .collect()
        });
        let messages = messages.iter().map(hf_message).collect::<Result<Vec<_>>>()?;
        template
            .render(context! {
                messages => Jinja::from(Serde(messages)),
                tools => Jinja::from(Serde(tools)),
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|err| Error::InvalidRequest {
                status: None,
                message: format!("the chat template failed: {err:#}"),
            })
    }
}

/// A message as Hugging Face templates expect it.
fn hf_message(message: &Message) -> Result<Value> {
    Ok(match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content.text()}),
        Message::Assistant(reply) => {
            let mut value = json!({"role": "assistant", "content": reply.content});
            if !reply.tool_calls.is_empty() {
                value["tool_calls"] = reply
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            value
        }
        Message::Tool(result) => json!({
            "role": "tool",
            "tool_call_id": result.tool_call_id,
            "name": result.name,
            "content": result.content.text(),
        }),
        other => {
            return Err(Error::InvalidRequest {
                status: None,
                message: format!("the chat template cannot render {other:?}"),
            });
        }
    })
}

/// Tool definitions and how to call them, in the family's own words, for templates that drop
/// the tools.
fn tool_instructions(family: &dyn Family, tools: &[ToolSpec]) -> String {
    let definitions: Vec<String> = tools
        .iter()
        .map(|t| python_json(&json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}), None))
        .collect();
    family.instructions(&definitions)
}

/// Serialises like Python's `json.dumps`: `", "` and `": "` between items (or an indent), and
/// nothing HTML-escaped, so prompts match Hugging Face's byte for byte.
fn python_json(value: &impl serde::Serialize, indent: Option<usize>) -> String {
    let mut out = Vec::new();
    let written = match indent {
        Some(width) => {
            let indent = " ".repeat(width);
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, formatter))
        }
        None => {
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, PythonFormatter))
        }
    };
    match written {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(err) => format!("<unserialisable: {err}>"),
    }
}

/// `json.dumps`' default separators.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

/// `tojson`, as transformers defines it (no HTML escaping; `indent` honoured).
fn tojson(
    value: Jinja,
    kwargs: minijinja::value::Kwargs,
) -> std::result::Result<Jinja, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let _: Option<bool> = kwargs.get("ensure_ascii")?;
    let _: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    Ok(Jinja::from_safe_string(python_json(&value, indent)))
}

fn raise_exception(message: String) -> std::result::Result<Jinja, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

fn strftime_now(format: String) -> String {
    chrono::Local::now().format(&format).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{CHATML_TEMPLATE, LLAMA3_TEMPLATE};
    use anymodel_core::{AssistantMessage, ToolCall, ToolResult};

    fn weather() -> ToolSpec {
        ToolSpec {
            name: "get_weather".into(),
            description: "The weather in a city.".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        }
    }

    fn conversation() -> Vec<Message> {
        vec![
            Message::system("Be brief."),
            Message::user("Weather in Paris?"),
            Message::Assistant(AssistantMessage::with_tool_calls(vec![ToolCall::new(
                "c1",
                "get_weather",
                json!({"city": "Paris"}),
            )])),
            Message::Tool(ToolResult {
                tool_call_id: "c1".into(),
                name: "get_weather".into(),
                content: "18C".into(),
                is_error: false,
            }),
        ]
    }

    #[test]
    fn chatml_renders_turns_and_the_generation_prompt() {
        let template = ChatTemplate::new(CHATML_TEMPLATE, "", "<|im_end|>").unwrap();
        let prompt = template
            .render(&[Message::system("Be brief."), Message::user("Hi")], &[], true)
            .unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(template.family().name(), "hermes");
    }

    #[test]
    fn the_builtin_templates_render_tool_calls_and_results() {
        let chatml = ChatTemplate::new(CHATML_TEMPLATE, "", "<|im_end|>").unwrap();
        let prompt = chatml.render(&conversation(), &[weather()], true).unwrap();
        assert!(
            prompt.contains(
                "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""
            ),
            "{prompt}"
        );
        assert!(prompt.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"), "{prompt}");
        assert!(prompt.contains("<tool_response>\n18C\n</tool_response>"), "{prompt}");

        let llama = ChatTemplate::new(LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        assert_eq!(llama.family().name(), "llama3-json");
        let prompt = llama.render(&conversation(), &[weather()], true).unwrap();
        assert!(
            prompt.starts_with("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"),
            "{prompt}"
        );
        assert!(prompt.contains("\"name\": \"get_weather\""), "{prompt}");
        assert!(prompt.contains("<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"), "{prompt}");
        assert!(
            prompt.contains("<|start_header_id|>ipython<|end_header_id|>\n\n18C<|eot_id|>"),
            "{prompt}"
        );
        assert!(prompt.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"), "{prompt}");
    }

    #[test]
    fn tools_a_template_drops_go_into_the_system_prompt() {
        // Plain ChatML, as SmolLM2 ships it: no place for tools.
        let plain = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        let template = ChatTemplate::new(plain, "", "<|im_end|>").unwrap();
        let messages = [Message::system("Be brief."), Message::user("Weather?")];
        let prompt = template.render(&messages, &[weather()], true).unwrap();
        assert!(
            prompt
                .starts_with("<|im_start|>system\nBe brief.\n\nYou may call one or more functions"),
            "{prompt}"
        );
        assert!(prompt.contains("\"name\": \"get_weather\""));
        let without_system = template.render(&messages[1..], &[weather()], true).unwrap();
        assert!(without_system.starts_with("<|im_start|>system\nYou may call"), "{without_system}");
    }

    #[test]
    fn hugging_face_helpers_behave_as_in_python() {
        let source = "{{ {'a': '<b>', 'c': [1, 2]} | tojson }}|{{ '  x ' .strip() }}|{{ strftime_now('%Y') | length }}|{{ bos_token }}";
        let template = ChatTemplate::new(source, "<s>", "</s>").unwrap();
        assert_eq!(
            template.render(&[], &[], false).unwrap(),
            "{\"a\": \"<b>\", \"c\": [1, 2]}|x|4|<s>"
        );
        let failing =
            ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "", "").unwrap();
        let err = failing.render(&[], &[], false).unwrap_err();
        assert!(err.to_string().contains("roles must alternate"), "{err}");
        let broken = ChatTemplate::new("{% for x in %}", "", "").unwrap_err();
        assert!(matches!(broken, Error::Configuration { .. }), "{broken}");
    }

    #[test]
    fn a_template_that_loops_without_end_runs_out_of_fuel() {
        let source =
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        let template = ChatTemplate::new(source, "", "").unwrap();
        let started = std::time::Instant::now();
        let error = template.render(&[Message::user("hi")], &[], true).unwrap_err();
        assert!(error.to_string().contains("fuel"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
}
