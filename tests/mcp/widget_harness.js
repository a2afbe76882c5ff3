// Runs a widget's scripts against a minimal fake DOM, hosted as ChatGPT hosts it (window.openai) or as
// an MCP Apps host does (JSON-RPC over postMessage: ui/initialize, then ui/notifications/tool-result).
// Input (stdin JSON): {html, host: "openai" | "mcp-apps", toolOutput, reply, events: [[type, eventLike], ...]},
// and for MCP Apps: tool and toolArguments (the call that rendered the view), stripped (the host leaves
// the structured content out of ui/notifications/tool-result, as Claude Desktop has done).
// Output: {html, calls, scrolls, dark, protocol}: the rendered HTML, the tools (and messages) the widget
// sent, how often it scrolled to the top, whether it took the host's dark theme, the methods it posted.
"use strict";
const fs = require("fs");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const scripts = [...input.html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]);
if (scripts.length === 0) throw new Error("the widget has no inline script");

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const listeners = {};
const windowListeners = {};
const calls = [];
const protocol = [];
let scrolls = 0;
let dark = false;

// The element holding the problem message, found in the rendered HTML string.
const PROBLEM = /<p[^>]*data-problem[^>]*>[\s\S]*?<\/p>/;
const root = {
  innerHTML: "",
  addEventListener: (type, handler) => { listeners[type] = handler; },
  scrollIntoView() { scrolls += 1; },
  querySelector(selector) {
    if (selector !== "[data-problem]") throw new Error(`the harness does not support ${selector}`);
    const found = PROBLEM.exec(root.innerHTML);
    if (!found) return null;
    return {
      set textContent(text) {
        root.innerHTML = root.innerHTML.replace(PROBLEM, found[0].replace(/>[\s\S]*<\/p>$/, `>${text}</p>`));
      },
      remove() { root.innerHTML = root.innerHTML.replace(PROBLEM, ""); },
    };
  },
};
globalThis.document = {
  getElementById: () => root,
  documentElement: { classList: { add() { dark = true; }, remove() { dark = false; } } },
};
globalThis.window = {
  addEventListener(type, handler) { (windowListeners[type] ||= []).push(handler); },
  scrollTo() {},
};

function deliver(message) {
  setTimeout(() => {
    for (const handler of windowListeners.message || []) handler({ data: message, source: window.parent });
  }, 0);
}

if (input.host === "mcp-apps") {
  window.parent = {
    postMessage(message) {
      protocol.push(message.method ?? "response");
      const answer = (result) => deliver({ jsonrpc: "2.0", id: message.id, result });
      switch (message.method) {
        case "ui/initialize":
          return answer({
            protocolVersion: message.params.protocolVersion,
            hostInfo: { name: "harness", version: "1" },
            hostCapabilities: { serverTools: {} },
            hostContext: { theme: "dark", toolInfo: { tool: { name: input.tool ?? "read_chapter" } } },
          });
        case "ui/notifications/initialized":
          deliver({ jsonrpc: "2.0", method: "ui/notifications/tool-input", params: { arguments: input.toolArguments ?? {} } });
          // A host may strip the structured content from the notification (input.stripped).
          return deliver({
            jsonrpc: "2.0",
            method: "ui/notifications/tool-result",
            params: {
              content: [{ type: "text", text: "summary" }],
              ...(input.stripped ? {} : { structuredContent: input.toolOutput }),
            },
          });
        case "tools/call": {
          calls.push({ name: message.params.name, args: message.params.arguments });
          const refetch = input.stripped && calls.length === 1;
          return answer({
            content: [{ type: "text", text: "summary" }],
            structuredContent: refetch ? input.toolOutput : input.reply,
          });
        }
        case "ui/message":
          calls.push({ name: "ui/message", args: message.params });
          return answer({});
      }
    },
  };
} else {
  window.openai = {
    toolOutput: input.toolOutput,
    theme: "light",
    widgetState: null,
    setWidgetState(state) { this.widgetState = state; },
    async callTool(name, args) { calls.push({ name, args }); return { structuredContent: input.reply }; },
    sendFollowUpMessage(message) { calls.push({ name: "sendFollowUpMessage", args: message }); },
  };
}

// Event targets are plain objects; `closest` returns the button itself.
const target = (fields) => ({ disabled: false, dataset: {}, ...fields, closest() { return this; }, matches: () => false });

(async () => {
  new Function(scripts.join("\n"))();
  for (let i = 0; i < 5; i++) await tick();  // the MCP Apps handshake and the tool result
  for (const [type, fields] of input.events || []) {
    listeners[type]({ target: target(fields), preventDefault() {} });
    for (let i = 0; i < 3; i++) await tick();
  }
  process.stdout.write(JSON.stringify({ html: root.innerHTML, calls, scrolls, dark, protocol }));
})();
