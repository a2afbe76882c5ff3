// The host bridge, inlined into every widget: one widget source for both kinds of host.
//   ChatGPT (Apps SDK): window.openai — toolOutput, theme, widgetState, callTool, sendFollowUpMessage,
//     and an "openai:set_globals" event when any of them changes.
//   MCP Apps hosts such as Claude (SEP-1865): JSON-RPC 2.0 over postMessage with the parent window —
//     ui/initialize, then ui/notifications/tool-result with the tool's CallToolResult, tools/call,
//     ui/message, ui/notifications/size-changed.
// A widget calls companionHost(onChange) once; onChange({toolOutput?, theme?}) runs on every update.
// callTool resolves to {structuredContent, isError, content} on both hosts.
function companionHost(onChange) {
  "use strict";
  const structuredOf = (result) => {
    if (!result) return null;
    if (result.structuredContent) return result.structuredContent;
    try { return typeof result.result === "string" ? JSON.parse(result.result) : null; } catch { return null; }
  };
  const normalise = (result) => ({
    structuredContent: structuredOf(result),
    isError: Boolean(result?.isError),
    content: result?.content ?? [],
  });

  if (window.openai) {
    const openai = () => window.openai;
    window.addEventListener("openai:set_globals", (event) => onChange(event.detail?.globals || {}));
    return {
      kind: "openai",
      get toolOutput() { return openai().toolOutput ?? null; },
      get theme() { return openai().theme; },
      get widgetState() { return openai().widgetState ?? null; },
      setWidgetState(state) { openai().setWidgetState?.(state); },
      get canCallTools() { return typeof openai().callTool === "function"; },
      async callTool(name, args) { return normalise(await openai().callTool(name, args)); },
      sendMessage(text) { openai().sendFollowUpMessage?.({ prompt: text }); },
    };
  }

  // MCP Apps: the host answers our requests and notifies us of the tool result and context changes.
  const pending = new Map();
  let nextId = 1;
  let toolOutput = null;
  let toolName = null;     // the tool that rendered this view, from the host context
  let toolArguments = null;
  let theme;
  let widgetState = null;  // kept for the life of the view (MCP Apps has no host-side widget state)
  const post = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
  const request = (method, params) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    post({ id, method, params });
  });
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (!message.method && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(message.error.message || "The host refused the request."));
      else resolve(message.result);
      return;
    }
    switch (message.method) {
      case "ui/notifications/tool-input":
        toolArguments = message.params?.arguments ?? null;
        break;
      case "ui/notifications/tool-result":
        toolOutput = structuredOf(message.params);
        if (toolOutput === null && toolName && toolArguments && !message.params?.isError) {
          // Some hosts hand the view the result without its structured content: ask for it again.
          request("tools/call", { name: toolName, arguments: toolArguments })
            .then((result) => { toolOutput = structuredOf(result); onChange({ toolOutput }); }, () => {});
        }
        onChange({ toolOutput });
        break;
      case "ui/notifications/host-context-changed":
        if (message.params?.theme) { theme = message.params.theme; onChange({ theme }); }
        break;
      case "ui/resource-teardown":
      case "ping":
        post({ id: message.id, result: {} });
        break;
    }
  });
  request("ui/initialize", {
    appInfo: { name: "course-companion-widget", version: "1.0.0" },
    appCapabilities: { availableDisplayModes: ["inline"] },
    protocolVersion: "2026-01-26",
  }).then((result) => {
    theme = result?.hostContext?.theme;
    toolName = result?.hostContext?.toolInfo?.tool?.name ?? null;
    post({ method: "ui/notifications/initialized", params: {} });
    onChange({ theme });
  }, () => {});
  // Hosts size the view's frame from what it reports.
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      const box = document.documentElement;
      post({ method: "ui/notifications/size-changed", params: { width: box.scrollWidth, height: box.scrollHeight } });
    }).observe(document.documentElement);
  }
  return {
    kind: "mcp-apps",
    get toolOutput() { return toolOutput; },
    get theme() { return theme; },
    get widgetState() { return widgetState; },
    setWidgetState(state) { widgetState = state; },
    canCallTools: true,
    async callTool(name, args) { return normalise(await request("tools/call", { name, arguments: args })); },
    sendMessage(text) { request("ui/message", { role: "user", content: [{ type: "text", text }] }).catch(() => {}); },
  };
}
