#!/usr/bin/env python3
"""Local stand-ins for the three agent APIs, over TLS (python3 stdlib only).

    agent_apis.py --cert C --key K --port P --log F [--answer TEXT] [--port-file F]
                  [--refuse-ws N] [--refuse-ws-file F] [--ws-deflate accept|decline]
                  [--decline-deflate-file F] [--bash CMD]

One listener answers every host (the test points api.anthropic.com, api.openai.com,
chatgpt.com and generativelanguage.googleapis.com at it with airlock's [proxy.resolve];
its certificate names all of them). It speaks enough of each protocol for a one-prompt run
of the real CLI, and every answer's text is "<TEXT> (<api>)":

  Anthropic Messages   POST /v1/messages            SSE when "stream": true, else JSON;
                                                     with --bash CMD, a turn that offers the
                                                     Bash tool (Claude Code's main loop) is first
                                                     answered with a tool_use running CMD, and
                                                     the turn with its result gets the text
                       POST /v1/messages/count_tokens
  OpenAI Responses     POST /v1/responses           SSE (text/event-stream)
                       GET  /v1/responses + Upgrade  WebSocket: each {"type": "response.create"}
                                                     text message is answered with the same
                                                     events as text messages; the first N
                                                     upgrades are refused with 426 (--refuse-ws),
                                                     and every one while F exists (--refuse-ws-file)
                       GET  /v1/models              an empty model list
  Gemini               POST /v1beta/models/M:streamGenerateContent?alt=sse   SSE
                       POST /v1beta/models/M:generateContent, :countTokens

WebSocket: RFC 6455 framing (masked client frames, fragments, ping/pong/close) and
permessage-deflate (RFC 7692): when the client offers it, --ws-deflate accept (default)
answers "permessage-deflate; server_no_context_takeover" (plus client_no_context_takeover
or server_max_window_bits when the offer has them) and inflates/deflates messages;
decline answers without the extension and the client must then send uncompressed frames
(so does every upgrade while the file --decline-deflate-file names exists).

--log F appends one JSON line per request: {api, host, method, target, headers: [[k, v]...],
body: the parsed JSON body (or null), transport: "http" | "websocket"}, then for a WebSocket
one line per message received {api, transport: "websocket-message", compressed, message}. Unknown
requests get 404 and are logged too (api "unknown"), so a test sees everything a CLI sent.
Runs until killed.
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ARGS = None
LOG_LOCK = threading.Lock()
STATE_LOCK = threading.Lock()
REFUSED = 0  # WebSocket upgrades refused so far (--refuse-ws)


def log(record):
    if not ARGS.log:
        return
    with LOG_LOCK, open(ARGS.log, "a") as f:
        f.write(json.dumps(record) + "\n")


def answer(api):
    return f"{ARGS.answer} ({api})"


# ---- Anthropic Messages ------------------------------------------------------------------

def anthropic_message(model, text):
    return {"id": "msg_standin", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 6}}


def anthropic_tool_turn(body):
    """--bash CMD: the Bash command to ask Claude Code to run, on a turn that offers the Bash
    tool and has no tool result yet (after the result comes the text answer)."""
    if not ARGS.bash or not any(t.get("name") == "Bash" for t in (body or {}).get("tools") or []):
        return None
    for message in (body or {}).get("messages") or []:
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "tool_result" for c in content):
            return None
    return {"command": ARGS.bash, "description": "run the stand-in's command"}


def anthropic_events(model, text, tool_input=None):
    start = anthropic_message(model, text)
    start["content"], start["stop_reason"] = [], None
    start["usage"] = {"input_tokens": 12, "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": start}
    if tool_input is not None:
        block = {"type": "tool_use", "id": f"toolu_standin_{int(time.time() * 1000)}", "name": "Bash", "input": {}}
        yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool_input)}}
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                "usage": {"output_tokens": 6}}
        yield "message_stop", {"type": "message_stop"}
        return
    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}}
    yield "ping", {"type": "ping"}
    half = len(text) // 2
    for piece in (text[:half], text[half:]):
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": piece}}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"output_tokens": 6}}
    yield "message_stop", {"type": "message_stop"}


# ---- OpenAI Responses --------------------------------------------------------------------

def responses_events(model, text):
    n = int(time.time() * 1000)
    rid, mid = f"resp_standin_{n}", f"msg_standin_{n}"
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model,
            "status": "in_progress", "output": []}
    item = {"type": "message", "id": mid, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    yield {"type": "response.created", "sequence_number": 0, "response": base}
    yield {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
           "item": {**item, "status": "in_progress", "content": []}}
    yield {"type": "response.content_part.added", "sequence_number": 2, "item_id": mid,
           "output_index": 0, "content_index": 0,
           "part": {"type": "output_text", "text": "", "annotations": []}}
    yield {"type": "response.output_text.delta", "sequence_number": 3, "item_id": mid,
           "output_index": 0, "content_index": 0, "delta": text}
    yield {"type": "response.output_text.done", "sequence_number": 4, "item_id": mid,
           "output_index": 0, "content_index": 0, "text": text}
    yield {"type": "response.output_item.done", "sequence_number": 5, "output_index": 0, "item": item}
    done = {**base, "status": "completed", "output": [item],
            "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": 6, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": 18}}
    yield {"type": "response.completed", "sequence_number": 6, "response": done}


# ---- Gemini ------------------------------------------------------------------------------

def gemini_reply(body, text, model, final=True):
    cfg = (body or {}).get("generationConfig") or {}
    if cfg.get("responseMimeType") == "application/json" or cfg.get("responseJsonSchema") or cfg.get("responseSchema"):
        # Gemini CLI's own helper calls want JSON: the next-speaker check, and the model router's
        # classifiers (ClassifierStrategy, NumericalClassifierStrategy).
        text = json.dumps({"reasoning": "stand-in", "next_speaker": "user", "model_choice": "flash",
                           "complexity_reasoning": "stand-in", "complexity_score": 1})
    cand = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if final:
        cand["finishReason"] = "STOP"
    return {"candidates": [cand],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 6, "totalTokenCount": 18},
            "modelVersion": model, "responseId": "standin"}


# ---- WebSocket ---------------------------------------------------------------------------

def parse_extension_offers(header):
    """'a; x=1, b' -> [('a', {'x': '1'}), ('b', {})]"""
    offers = []
    for part in (header or "").split(","):
        items = [p.strip() for p in part.split(";") if p.strip()]
        if not items:
            continue
        params = {}
        for p in items[1:]:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"') or None
        offers.append((items[0].lower(), params))
    return offers


class WebSocket:
    def __init__(self, rfile, wfile, deflate):
        self.rfile, self.wfile = rfile, wfile
        self.deflate = deflate  # None or {"server_bits": n, "client_no_context": bool}
        self.inflater = zlib.decompressobj(-15) if deflate else None

    def read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def read_frame(self):
        b0, b1 = self.read_exact(2)
        fin, rsv1, opcode = b0 & 0x80, b0 & 0x40, b0 & 0x0F
        masked, length = b1 & 0x80, b1 & 0x7F
        if length == 126:
            length = struct.unpack(">H", self.read_exact(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self.read_exact(8))[0]
        if not masked:
            raise ValueError("client frame not masked")
        key = self.read_exact(4)
        payload = bytearray(self.read_exact(length))
        for i in range(length):
            payload[i] ^= key[i % 4]
        return bool(fin), bool(rsv1), opcode, bytes(payload)

    def receive(self):
        """The next data message as (opcode, bytes, was it compressed), or None at close."""
        parts, first_op, compressed = [], None, False
        while True:
            fin, rsv1, opcode, payload = self.read_frame()
            if opcode == 0x8:
                self.send_frame(0x8, payload[:2] or struct.pack(">H", 1000))
                return None
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                first_op, compressed, parts = opcode, rsv1, [payload]
            elif opcode == 0x0:
                parts.append(payload)
            if fin:
                data = b"".join(parts)
                if compressed:
                    if not self.deflate:
                        raise ValueError("compressed frame without permessage-deflate")
                    data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
                    if self.deflate["client_no_context"]:
                        self.inflater = zlib.decompressobj(-15)
                return first_op, data, compressed

    def send_frame(self, opcode, payload, rsv1=False):
        head = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack(">H", n)
        else:
            head += bytes([127]) + struct.pack(">Q", n)
        self.wfile.write(head + payload)
        self.wfile.flush()

    def send_text(self, text):
        data = text.encode()
        if self.deflate:
            c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.deflate["server_bits"])
            data = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
            if data.endswith(b"\x00\x00\xff\xff"):
                data = data[:-4]
            self.send_frame(0x1, data, rsv1=True)
        else:
            self.send_frame(0x1, data)


# ---- The handler -------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agent-api-stand-in"

    def log_message(self, fmt, *args):
        pass

    def host(self):
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def record(self, api, body, transport="http"):
        log({"api": api, "host": self.host(), "method": self.command, "target": self.path,
             "headers": [[k, v] for k, v in self.headers.items()], "body": body,
             "transport": transport, "t": time.time()})

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(chunks)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() in ("gzip", "deflate"):
            raw = zlib.decompress(raw, 47)
        elif self.headers.get("Content-Encoding", "").lower() == "zstd":
            return {"unreadable": "zstd body", "len": len(raw)}
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return {"unparsed": raw[:2000].decode("latin-1")}

    def send_json(self, status, obj, extra=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def sse_chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_sse(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if self.headers.get("Upgrade", "").lower() == "websocket" and path.endswith("/responses"):
            return self.websocket_responses()
        if path.endswith("/v1/models"):
            self.record("openai", None)
            return self.send_json(200, {"object": "list", "data": [], "models": []})
        self.unknown(None)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        path = url.path
        if path == "/v1/messages":
            self.record("anthropic", body)
            model = (body or {}).get("model", "claude-stand-in")
            if (body or {}).get("stream"):
                self.start_sse()
                for event, data in anthropic_events(model, answer("anthropic"), anthropic_tool_turn(body)):
                    self.sse_chunk(f"event: {event}\ndata: {json.dumps(data)}\n\n")
                self.end_sse()
            else:
                self.send_json(200, anthropic_message(model, answer("anthropic")))
            return
        if path == "/v1/messages/count_tokens":
            self.record("anthropic", body)
            return self.send_json(200, {"input_tokens": 12})
        if path == "/v1/responses":
            self.record("openai", body)
            self.start_sse()
            for data in responses_events((body or {}).get("model", "gpt-stand-in"), answer("openai")):
                self.sse_chunk(f"event: {data['type']}\ndata: {json.dumps(data)}\n\n")
            self.end_sse()
            return
        if path.startswith("/v1beta/models/") or path.startswith("/v1/models/"):
            model, _, method = path.rsplit("/", 1)[-1].partition(":")
            self.record("gemini", body)
            if method == "streamGenerateContent":
                self.start_sse()
                text = answer("gemini")
                half = len(text) // 2
                self.sse_chunk("data: " + json.dumps(gemini_reply(body, text[:half], model, final=False)) + "\r\n\r\n")
                self.sse_chunk("data: " + json.dumps(gemini_reply(body, text[half:], model)) + "\r\n\r\n")
                self.end_sse()
                return
            if method == "generateContent":
                return self.send_json(200, gemini_reply(body, answer("gemini"), model))
            if method == "countTokens":
                return self.send_json(200, {"totalTokens": 12})
        self.unknown(body)

    def unknown(self, body):
        self.record("unknown", body)
        self.send_json(404, {"error": {"message": f"stand-in: no {self.command} {self.path}"}})

    def websocket_responses(self):
        global REFUSED
        self.record("openai", None, transport="websocket")
        with STATE_LOCK:
            refuse = REFUSED < ARGS.refuse_ws or bool(ARGS.refuse_ws_file and os.path.exists(ARGS.refuse_ws_file))
            if refuse:
                REFUSED += 1
        if refuse:
            log({"api": "openai", "transport": "websocket-refused"})
            return self.send_json(426, {"error": {"message": "stand-in: WebSocket refused, use HTTPS"}})
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        deflate, ext_reply = None, None
        decline = ARGS.ws_deflate == "decline" or bool(ARGS.decline_deflate_file and os.path.exists(ARGS.decline_deflate_file))
        if not decline:
            for name, params in parse_extension_offers(self.headers.get("Sec-WebSocket-Extensions")):
                if name != "permessage-deflate":
                    continue
                bits = 15
                reply = ["permessage-deflate", "server_no_context_takeover"]
                if "server_max_window_bits" in params:
                    bits = max(9, int(params["server_max_window_bits"] or 15))
                    reply.append(f"server_max_window_bits={bits}")
                client_no_context = "client_no_context_takeover" in params
                if client_no_context:
                    reply.append("client_no_context_takeover")
                deflate, ext_reply = {"server_bits": bits, "client_no_context": client_no_context}, "; ".join(reply)
                break
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if ext_reply:
            self.send_header("Sec-WebSocket-Extensions", ext_reply)
        self.end_headers()
        self.wfile.flush()
        log({"api": "openai", "transport": "websocket-accepted", "extensions": ext_reply})
        ws = WebSocket(self.rfile, self.wfile, deflate)
        try:
            while True:
                msg = ws.receive()
                if msg is None:
                    break
                try:
                    request = json.loads(msg[1])
                except ValueError:
                    request = {"unparsed": msg[1][:2000].decode("latin-1")}
                log({"api": "openai", "transport": "websocket-message", "compressed": msg[2], "message": request})
                if isinstance(request, dict) and request.get("type") == "response.create":
                    for event in responses_events(request.get("model", "gpt-stand-in"), answer("openai")):
                        ws.send_text(json.dumps(event))
        except (EOFError, ConnectionError, ssl.SSLError, OSError):
            pass
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--answer", default="hello from the stand-in")
    p.add_argument("--refuse-ws", type=int, default=0)
    p.add_argument("--bash")
    p.add_argument("--refuse-ws-file")
    p.add_argument("--decline-deflate-file")
    p.add_argument("--ws-deflate", choices=["accept", "decline"], default="accept")
    ARGS = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    ctx.set_alpn_protocols(["http/1.1"])
    server = Server((ARGS.host, ARGS.port), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.server_address[1]))
        os.replace(tmp, ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
