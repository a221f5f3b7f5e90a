"""Drives `anymodel chat` in a pseudo-terminal as a person would: asks for a long answer, presses
Ctrl-C while it comes, checks the session goes on, saves, clears, loads, and leaves with Ctrl-D.

    python3 tests/chat_pty.py ANYMODEL MODEL.gguf FOLDER

Exits 0 when every step behaved, 1 with what was seen otherwise (run by tests/cli.rs)."""

import os
import pty
import select
import sys
import time

binary, model, folder = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.chdir(folder)
    os.execv(binary, [binary, "chat", "-m", model, "-o", "max_tokens=400", "-o", "temperature=0.7"])

seen = b""


def wait_for(text, seconds=60):
    """Reads until `text` appears in what the program wrote (after what was seen before)."""
    global seen
    start = len(seen)
    deadline = time.time() + seconds
    while text.encode() not in seen[start:]:
        left = deadline - time.time()
        if left <= 0:
            sys.exit(f"waited for {text!r}; saw:\n{seen[start:].decode(errors='replace')}\nbefore:\n{seen[:start][-600:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                sys.exit(f"the program ended while waiting for {text!r}; saw:\n{seen.decode(errors='replace')}")


def send(text):
    # The line editor drops what arrives before it has set the terminal up for the next line.
    time.sleep(0.5)
    os.write(fd, text.encode())


def read_some():
    """Whatever the program writes within a moment."""
    global seen
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        seen += os.read(fd, 4096)


wait_for("> ")
send("Hi, I am Ada.\r")
wait_for("> ")
# Stop an answer while it comes. A short answer may end before the key arrives: then ask again.
for attempt in range(5):
    send("Write a very long story about the sea, with many chapters.\r")
    wait_for("chapters.")
    start = len(seen)
    while len(seen) - start < 40:
        read_some()
    os.write(fd, b"\x03")
    deadline = time.time() + 30
    while time.time() < deadline and b"(stopped)" not in seen[start:] and b"Ctrl-C again" not in seen[start:]:
        read_some()
    if b"(stopped)" in seen[start:]:
        break
    wait_for("> ")
else:
    sys.exit(f"never stopped an answer; saw:\n{seen.decode(errors='replace')}")
if b"> " not in seen[seen.rindex(b"(stopped)"):]:
    wait_for("> ")
send("/model\r")
wait_for("SmolLM2")
send("/save chat.json\r")
wait_for("(saved ")
send("/clear\r")
wait_for("(conversation cleared)")
send("/load chat.json\r")
wait_for("(loaded ")
send("\x03")
wait_for("Ctrl-C again")
send("\x04")
_, status = os.waitpid(pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"exit status {status}; saw:\n{seen.decode(errors='replace')}")
saved = open(os.path.join(folder, "chat.json")).read()
if '"model"' not in saved or "Ada" not in saved:
    sys.exit(f"chat.json lacks the model or the conversation:\n{saved}")
print("chat session: ok")
