/* Live preview for the wiki editor: the form works without this script; with it, the
   preview pane follows the text as you type (a debounced POST to /wiki_render). */
(function () {
  "use strict";
  var form = document.getElementById("edit");
  var pane = document.getElementById("preview");
  if (!form || !pane || !window.fetch) { return; }
  var textarea = form.querySelector("textarea[name=text]");
  var tokenField = form.querySelector("input[name=__FORM_TOKEN]");
  var url = form.getAttribute("data-render-href");
  var page = form.getAttribute("data-page") || "";
  if (!textarea || !tokenField || !url) { return; }
  var timer = null;
  var pending = null;
  var lastText = null;

  function render() {
    var text = textarea.value;
    if (text === lastText) { return; }
    lastText = text;
    if (pending) { pending.abort(); }
    pending = new AbortController();
    var body = new URLSearchParams();
    body.set("__FORM_TOKEN", tokenField.value);
    body.set("realm", "wiki");
    body.set("id", page);
    body.set("text", text);
    fetch(url, {method: "POST", body: body, credentials: "same-origin", signal: pending.signal,
                headers: {"X-Requested-With": "XMLHttpRequest"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
        return response.text();
      })
      .then(function (html) {
        pane.innerHTML = html;
        pane.removeAttribute("data-error");
        form.dispatchEvent(new CustomEvent("wiki-preview-updated"));
      })
      .catch(function (error) {
        if (error.name === "AbortError") { return; }
        pane.setAttribute("data-error", String(error));
      });
  }

  textarea.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(render, 300);
  });
  form.classList.add("live-preview");
  if (!pane.querySelector(".wikipage, h1, h2, p:not(.help), ul, table")) { render(); }
})();
