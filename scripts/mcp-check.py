#!/usr/bin/env python3
"""Real MCP peers end to end, run by the test command (scripts/test).

1. Servers nobody here wrote, from package registries, used through anymodel's client:
   `mcp-server-time` (PyPI; the MCP project's reference time server, on the Python SDK) and
   `@modelcontextprotocol/server-filesystem` (npm; the reference file server, on the TypeScript
   SDK). `anymodel mcp list` lists them; an agent on the local model calls one tool of each
   with a forced tool choice, and its arguments are checked against the server's inputSchema.
2. The official Python MCP SDK's client against `anymodel mcp serve` over stdio, greeted both
   ways (2026-07-28 discovery, and the 2025 initialize handshake): it lists the tools and calls
   search_documents on an index of examples/docs.

Usage: scripts/mcp-check.py ANYMODEL MODEL FILESYSTEM_SERVER
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

anymodel, model, filesystem = sys.argv[1], sys.argv[2], sys.argv[3]
work = tempfile.mkdtemp(prefix="anymodel-mcp-check-")
docs = os.path.join(work, "docs")
shutil.copytree("examples/docs", docs)
config = os.path.join(work, "anymodel.toml")
with open(config, "w") as f:
    f.write(f"""
[mcp.time]
command = {json.dumps(shutil.which("mcp-server-time"))}
args = ["--local-timezone", "UTC"]

[mcp.files]
command = {json.dumps(filesystem)}
args = [{json.dumps(docs)}]
allow = ["list_directory", "read_text_file"]
""")


def run(*args):
    done = subprocess.run([anymodel, "-c", config, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


listed = json.loads(run("mcp", "list", "--json"))
servers = {server["name"]: server for server in listed}
print("anymodel mcp list:", ", ".join(f"{s['name']} ({s['server']}, protocol {s['protocol_version']})" for s in listed))
assert servers["time"]["protocol_version"] == "2026-07-28", servers["time"]
assert servers["files"]["protocol_version"].startswith("2025-"), servers["files"]  # the initialize fallback
permitted = [t["name"] for t in servers["files"]["tools"] if t["permitted"]]
assert sorted(permitted) == ["list_directory", "read_text_file"], permitted


def forced_call(server, tool, prompt):
    """An agent on the local model, made to call `tool` of `server`: the call as recorded."""
    record = json.loads(run("run", "-q", "-M", server, "-m", model, "--tool-choice", tool,
                            "-o", "temperature=0", "--max-steps", "2", "--json", prompt))
    calls = [c for step in record["steps"] for c in step.get("tool_calls", [])]
    assert calls and calls[0]["call"]["name"] == tool, record
    schema = next(t["input_schema"] for t in servers[server]["tools"] if t["name"] == tool)
    jsonschema.validate(calls[0]["call"]["arguments"], schema)
    print(f"{server}/{tool}: {json.dumps(calls[0]['call']['arguments'])} -> {json.dumps(calls[0]['result'])[:160]}")
    return calls[0]


called = forced_call("time", "get_current_time", "What time is it in Paris (timezone Europe/Paris)?")
assert "datetime" in called["result"]["ok"], called
# The small model may name a path outside the folder; the server's refusal then comes back as
# a tool error. Either way the call was made and valid.
called = forced_call("files", "list_directory", f"List the files in the folder {docs}")
assert "ok" in called["result"] or called["result"]["error"]["kind"] == "failed", called

index = os.path.join(work, "index")
run("index", "--index", index, "add", docs)


async def drive_mcp_serve(modern):
    params = StdioServerParameters(command=anymodel, args=["-q", "-c", config, "mcp", "serve", "--index", index])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            if modern:
                await session.discover()
            else:
                await session.initialize()
            tools = [tool.name for tool in (await session.list_tools()).tools]
            assert tools[0] == "search_documents" and "calculator" in tools, tools
            found = await session.call_tool("search_documents", {"query": "how often to descale"})
            text = "\n".join(block.text for block in found.content if block.type == "text")
            assert not found.is_error and "descaling.md" in text, found
            failed = await session.call_tool("calculator", {"expression": "1 +"})
            assert failed.is_error, failed
            return session.protocol_version, tools


for modern in (True, False):
    version, tools = asyncio.run(drive_mcp_serve(modern))
    print(f"the Python MCP SDK's client ({version}) against anymodel mcp serve: {', '.join(tools)}")
shutil.rmtree(work)
print("MCP peers ok")
