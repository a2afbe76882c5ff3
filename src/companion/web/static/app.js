// Course Companion pages: reading records, "Ask about this", the tutor panel, time zones, diagrams.
// Everything here is progressive enhancement: every page works (reads, forms) without it.
(function () {
  "use strict";

  var DWELL_MS = 2500; // a section counts as read after this long in view
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function post(url, fields, beacon) {
    var form = new FormData();
    form.append("csrf_token", csrf);
    Object.keys(fields).forEach(function (key) { form.append(key, fields[key]); });
    if (beacon && navigator.sendBeacon) { navigator.sendBeacon(url, form); return; }
    fetch(url, { method: "POST", body: form, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .catch(function () { /* offline: the next report carries the time */ });
  }

  // --- Reading: sections read after a dwell, time spent while the page is visible -------------
  function trackReading(main) {
    var url = main.getAttribute("data-reading-url");
    var sections = document.querySelectorAll(".chapter-section[data-section-id]");
    var reported = {}, timers = {};
    var activeSince = document.visibilityState === "visible" ? Date.now() : null;
    var banked = 0;

    function takeSeconds() {
      if (activeSince !== null) { banked += Date.now() - activeSince; activeSince = Date.now(); }
      var seconds = Math.floor(banked / 1000);
      banked -= seconds * 1000;
      return seconds;
    }
    function report(sectionId, beacon) {
      var fields = { seconds: String(takeSeconds()) };
      if (sectionId) fields.section_id = sectionId;
      if (!sectionId && fields.seconds === "0") return;
      post(url, fields, beacon);
    }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var id = entry.target.getAttribute("data-section-id");
        var visible = entry.isIntersecting &&
          (entry.intersectionRatio >= 0.4 || entry.intersectionRect.height >= window.innerHeight * 0.5);
        if (visible && !reported[id] && !timers[id]) {
          timers[id] = setTimeout(function () { reported[id] = true; delete timers[id]; report(id, false); }, DWELL_MS);
        } else if (!visible && timers[id]) {
          clearTimeout(timers[id]); delete timers[id];
        }
      });
    }, { threshold: [0, 0.2, 0.4, 0.6, 0.8, 1] });
    sections.forEach(function (section) { observer.observe(section); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { report(null, true); activeSince = null; }
      else { activeSince = Date.now(); }
    });
    window.addEventListener("pagehide", function () { report(null, true); });
  }

  // --- "Ask about this": a selected passage becomes the tutor's context -------------------------
  function selectionToAsk() {
    var button = document.getElementById("ask-selection");
    var form = document.getElementById("tutor-form");
    if (!button || !form) return;
    var chip = document.getElementById("tutor-selection");
    var pending = null;

    function currentSelection() {
      var selection = window.getSelection();
      if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
      var text = selection.toString().trim();
      if (text.length < 3) return null;
      var range = selection.getRangeAt(0);
      var node = range.commonAncestorContainer;
      var element = node.nodeType === 1 ? node : node.parentElement;
      var section = element && element.closest(".chapter-section");
      var chapter = element && element.closest("article.chapter");
      if (!chapter) return null;
      return { text: text.slice(0, 5000), range: range,
               sectionId: section ? section.getAttribute("data-section-id") : "",
               chapterId: chapter.getAttribute("data-chapter-id") };
    }
    function showButton() {
      pending = currentSelection();
      if (!pending) { button.hidden = true; return; }
      var box = pending.range.getBoundingClientRect();
      button.style.top = Math.max(8, box.bottom + 8) + "px";
      button.style.left = Math.min(window.innerWidth - 160, Math.max(8, box.left)) + "px";
      button.hidden = false;
    }
    document.addEventListener("mouseup", function (event) { if (event.target !== button) setTimeout(showButton, 0); });
    document.addEventListener("keyup", function (event) { if (event.shiftKey || event.key === "Shift") showButton(); });
    // Keyboard readers: Tab goes to the button once a passage is selected; Escape dismisses it.
    document.addEventListener("keydown", function (event) {
      if (button.hidden || document.activeElement === button) return;
      if (event.key === "Tab" && !event.shiftKey) { event.preventDefault(); button.focus(); }
      else if (event.key === "Escape") { button.hidden = true; }
    });
    document.addEventListener("touchend", function () { setTimeout(showButton, 0); });
    button.addEventListener("mousedown", function (event) { event.preventDefault(); });
    button.addEventListener("click", function () {
      if (!pending) return;
      document.getElementById("tutor-selected-text").value = pending.text;
      document.getElementById("tutor-selected-chapter").value = pending.chapterId;
      document.getElementById("tutor-selected-section").value = pending.sectionId;
      document.getElementById("tutor-selection-text").textContent =
        pending.text.length > 240 ? pending.text.slice(0, 240) + "…" : pending.text;
      chip.hidden = false;
      button.hidden = true;
      var question = document.getElementById("tutor-question");
      if (!question.value) question.value = "What does this mean?";
      question.focus();
      question.select();
    });
    document.getElementById("tutor-selection-clear").addEventListener("click", clearSelection);
  }

  function clearSelection() {
    ["tutor-selected-text", "tutor-selected-chapter", "tutor-selected-section"].forEach(function (id) {
      var field = document.getElementById(id);
      if (field) field.value = "";
    });
    var chip = document.getElementById("tutor-selection");
    if (chip) chip.hidden = true;
  }

  function tutorPanel() {
    var form = document.getElementById("tutor-form");
    if (!form) return;
    var log = document.getElementById("tutor-log");
    form.addEventListener("htmx:afterRequest", function (event) {
      if (!event.detail.successful) return;
      document.getElementById("tutor-question").value = "";
      clearSelection();
      log.lastElementChild && log.lastElementChild.scrollIntoView({ block: "nearest" });
    });
    var question = document.getElementById("tutor-question");
    question.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); htmx.trigger(form, "submit"); }
    });
    document.getElementById("tutor-new").addEventListener("click", function () {
      document.getElementById("tutor-conversation").value = "";
      log.innerHTML = "";
      clearSelection();
      question.focus();
    });
  }

  function detectTimezone() {
    var field = document.querySelector("[data-detect-timezone]");
    if (!field || field.value !== "UTC" || !window.Intl) return;
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) field.value = zone;
    } catch (error) { /* keep UTC */ }
  }

  function diagrams() {
    if (!window.mermaid || !document.querySelector("pre.mermaid")) return;
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    window.mermaid.run({ querySelector: "pre.mermaid" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      // Error fragments (422, 403, 429...) are shown in place rather than dropped.
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "401", swap: false },
        { code: "[45]..", swap: true, error: false }
      ];
    }
    var contents = document.querySelector(".book-nav-details");
    if (contents && window.matchMedia("(max-width: 760px)").matches) contents.open = false;
    var main = document.querySelector(".reader-main[data-reading-url]");
    if (main && "IntersectionObserver" in window) trackReading(main);
    selectionToAsk();
    tutorPanel();
    detectTimezone();
    diagrams();
  });
})();
