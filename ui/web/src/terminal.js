// The agent's terminal in the page: xterm.js attached to WS /api/sessions/NAME/terminal.
// Keystrokes go up as binary frames, output comes down as binary frames; the size follows the
// element (fit addon + ResizeObserver) and every change is sent as {"type":"resize"}.
import { Terminal } from '/vendor/xterm.mjs';
import { FitAddon } from '/vendor/addon-fit.mjs';
import { enc, wsUrl } from '/api.js';

// openTerminal(element, sessionName, onStatus(text, kind)) -> {reconnect(), dispose(), term}
export function openTerminal(element, name, onStatus = () => {}) {
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 13,
    scrollback: 5000,
    theme: { background: '#14181f', foreground: '#d8dee9', cursor: '#d8dee9' },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(element);
  const encoder = new TextEncoder();
  let ws = null;
  let disposed = false;

  const sendResize = () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
  };
  const refit = () => {
    if (disposed || !element.isConnected || element.clientWidth === 0) return;
    try { fit.fit(); } catch { /* not laid out yet */ }
  };

  function connect() {
    if (ws) ws.close();
    onStatus('connecting…', 'busy');
    const socket = new WebSocket(wsUrl(`/api/sessions/${enc(name)}/terminal`));
    socket.binaryType = 'arraybuffer';
    ws = socket;
    socket.onopen = () => {
      if (ws !== socket) return;
      onStatus('attached', 'ok');
      refit();
      sendResize();
      term.focus();
    };
    socket.onmessage = (e) => {
      if (typeof e.data !== 'string') {
        term.write(new Uint8Array(e.data));
        return;
      }
      let m = {};
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.type === 'end' || m.type === 'error') {
        term.write(`\r\n\x1b[2m[${String(m.message || m.type).replace(/[\x00-\x1f]/g, ' ')}]\x1b[0m\r\n`);
        onStatus(m.message || m.type, m.type === 'error' ? 'bad' : 'idle');
      }
    };
    socket.onclose = () => {
      if (ws === socket && !disposed) onStatus('detached', 'idle');
    };
  }

  term.onData((data) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data)); });
  term.onBinary((data) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff));
  });
  term.onResize(sendResize);

  let pending = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(refit);
  });
  observer.observe(element);
  refit();
  connect();

  return {
    term,
    reconnect: connect,
    dispose() {
      disposed = true;
      observer.disconnect();
      cancelAnimationFrame(pending);
      if (ws) ws.close();
      term.dispose();
    },
  };
}
