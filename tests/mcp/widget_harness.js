// Runs a widget's script against a minimal fake DOM and window.openai, as ChatGPT would host it.
// Input (stdin JSON): {toolOutput, reply, events: [[type, eventLike], ...]}; output: {html, calls}.
"use strict";
const fs = require("fs");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const source = fs.readFileSync(process.argv[2], "utf8");
const script = /<script>([\s\S]*)<\/script>/.exec(source)[1];

const listeners = {};
const root = { innerHTML: "", addEventListener: (type, handler) => { listeners[type] = handler; } };
const calls = [];
globalThis.document = {
  getElementById: () => root,
  documentElement: { classList: { add() {}, remove() {} } },
};
globalThis.window = {
  addEventListener() {},
  scrollTo() {},
  openai: {
    toolOutput: input.toolOutput,
    theme: "light",
    widgetState: null,
    setWidgetState(state) { this.widgetState = state; },
    async callTool(name, args) { calls.push({ name, args }); return { structuredContent: input.reply }; },
    sendFollowUpMessage(message) { calls.push({ name: "sendFollowUpMessage", args: message }); },
  },
};

// Event targets are plain objects; `closest` returns the button itself.
const target = (fields) => ({ disabled: false, dataset: {}, ...fields, closest() { return this; }, matches: () => false });

(async () => {
  new Function(script)();
  for (const [type, fields] of input.events || []) {
    listeners[type]({ target: target(fields), preventDefault() {} });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  process.stdout.write(JSON.stringify({ html: root.innerHTML, calls }));
})();
