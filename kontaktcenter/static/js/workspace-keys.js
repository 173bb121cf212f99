// Keyboard shortcuts for the agent's workspace (console and ticket page). No build step.
// The pages work without it; with it: ? help, j/k move, Enter open, n take next, / search,
// r reply, Ctrl+Enter send and resolve (then the next ticket opens), g back to the console.
// No shortcut fires while typing in a field, except Ctrl+Enter in the reply box.
(function () {
  "use strict";

  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  var help = document.getElementById("shortcut-help");
  function toggleHelp() {
    if (!help || typeof help.showModal !== "function") { return; }
    if (help.open) { help.close(); } else { help.showModal(); }
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-shortcut-help]"), function (button) {
    button.addEventListener("click", toggleHelp);
  });

  // The console's list: j/k move the focus from ticket to ticket (its link), Enter opens it.
  function rowLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-keys-list] tr.ticket-row a, .ticket-list tr.ticket-row a"))
      .filter(function (a, i, all) { return all.indexOf(a) === i; });
  }
  function move(step) {
    var links = rowLinks();
    if (!links.length) { return; }
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    Array.prototype.forEach.call(document.querySelectorAll("tr.ticket-row.selected"), function (tr) { tr.classList.remove("selected"); });
    links[next].closest("tr").classList.add("selected");
    links[next].focus();
  }

  var body = document.getElementById("body");
  var sendResolve = document.getElementById("send-resolve");

  // A call or visit needs its contact reason to be resolved: say so here, before the reply
  // leaves the page (the server refuses it too, but the typed answer would be gone).
  var reason = document.getElementById("reply-reason");
  if (sendResolve && reason && reason.hasAttribute("data-required-to-resolve")) {
    sendResolve.form.addEventListener("submit", function (event) {
      if (event.submitter !== sendResolve || reason.value) { return; }
      event.preventDefault();
      var message = document.getElementById("reply-reason-error");
      if (message) { message.hidden = false; }
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
    });
  }

  // Straight from "Skicka och lös" to the next ticket: its reply box has the focus.
  if (body && window.location.hash === "#body") { body.focus(); }

  // The walk-in desk: Enter registers from the list of errands, the language and the needs,
  // as the hint says (a select does not submit a form by itself); Ctrl+Enter in the note.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-enter-submits]"), function (form) {
    form.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing) { return; }
      var tag = event.target.tagName;
      if (tag === "BUTTON" || tag === "A") { return; }  // they act on Enter themselves
      if (tag === "TEXTAREA" && !(event.ctrlKey || event.metaKey)) { return; }  // a new line
      event.preventDefault();
      form.requestSubmit();
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) { return; }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && sendResolve && event.target === body) {
      event.preventDefault();
      sendResolve.form.requestSubmit(sendResolve);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (help && help.open && event.key !== "?") { return; }  // the dialog handles Esc itself
    var target = null;
    switch (event.key) {
      case "?": toggleHelp(); break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "n": target = document.getElementById("take-next"); if (target) { target.click(); } break;
      case "/": target = document.getElementById("console-q"); if (target) { target.focus(); } break;
      case "r": if (body) { body.focus(); body.scrollIntoView({block: "center"}); } else { return; } break;
      case "g": target = document.querySelector("a[href$='/console']"); if (target) { window.location.assign(target.href); } else { return; } break;
      default: return;
    }
    event.preventDefault();
  });
})();
