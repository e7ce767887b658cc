// Building DOM without HTML strings: the CSP forbids inline code and Trusted Types forbid
// innerHTML, so every element is made with h(). Text is always set as text.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "value" || name === "checked" || name === "selected" || name === "disabled" || name === "hidden") {
        el[name] = value;
      } else el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// Move focus to an element; a heading or other non-control gets tabindex="-1" first, so it
// can take focus without joining the Tab order.
export function focusOn(el) {
  if (!el || !el.isConnected || el === document.body) return false;
  if (!el.matches("a[href], button, input, select, textarea, summary, [tabindex]")) el.setAttribute("tabindex", "-1");
  el.focus();
  return document.activeElement === el;
}

// Redraw part of a screen without dropping keyboard focus to <body> (a screen reader would
// start again at the top of the page): when focus was inside `host`, the control with the
// same `data-focus` key gets it back, else `fallback` (a heading) does.
export function redraw(host, children, fallback) {
  const active = document.activeElement;
  const inside = active && active !== document.body && host.contains(active);
  const key = inside && active.dataset ? active.dataset.focus : undefined;
  replace(host, ...children);
  if (!inside) return;
  const again = key ? host.querySelector(`[data-focus="${CSS.escape(key)}"]`) : null;
  if (!focusOn(again)) focusOn(typeof fallback === "function" ? fallback() : fallback);
}

// A dialog closed: give focus back to the control that opened it, or, when a redraw replaced
// that control meanwhile, to its successor (same `data-focus` key), else to `fallback`.
export function returnFocus(opener, fallback) {
  if (opener && opener.isConnected && focusOn(opener)) return;
  const key = opener && opener.dataset ? opener.dataset.focus : undefined;
  const again = key ? document.querySelector(`[data-focus="${CSS.escape(key)}"]`) : null;
  if (!focusOn(again)) focusOn(fallback);
}

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  today: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 2a7 7 0 0 1 7 7h-7V5z",
  work: "M9 4h6a2 2 0 0 1 2 2v1h3a1 1 0 0 1 1 1v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a1 1 0 0 1 1-1h3V6a2 2 0 0 1 2-2zm0 3h6V6H9v1z",
  trends: "M3 19h18v2H3zM5 16l4-5 4 3 6-8 1.6 1.2-7.2 9.6-4-3-2.8 3.6z",
  insights: "M12 2a7 7 0 0 1 4 12.7V17a1 1 0 0 1-1 1H9a1 1 0 0 1-1-1v-2.3A7 7 0 0 1 12 2zm-3 18h6v2H9z",
  privacy: "M12 2l8 3v6c0 5-3.4 9.4-8 11-4.6-1.6-8-6-8-11V5l8-3zm0 6a2 2 0 0 0-1 3.7V15h2v-3.3A2 2 0 0 0 12 8z",
  coach: "M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM8 13c-2.7 0-7 1.3-7 4v2h14v-2c0-2.7-4.3-4-7-4zm8 0c-.3 0-.7 0-1 .1 1.2.9 2 2.1 2 3.9v2h6v-2c0-2.7-4.3-4-7-4z",
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "24");
  svg.setAttribute("height", "24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", ICONS[name] || "");
  svg.append(path);
  return svg;
}

// Polite announcements for screen readers (sync done, entry saved, errors).
export function toast(message, { action, onAction, timeout = 5000, kind = "info" } = {}) {
  const host = document.getElementById("toasts");
  if (!host) return;
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null }, h("span", null, message));
  if (action && onAction) {
    item.append(
      h("button", { type: "button", class: "toast-action", onclick: () => { item.remove(); onAction(); } }, action),
    );
  }
  host.append(item);
  setTimeout(() => item.remove(), action ? timeout * 2 : timeout);
}

export function field(labelText, control, { hint, error } = {}) {
  const id = control.id || nextId();
  control.id = id;
  const describedBy = [];
  const wrap = h("div", { class: "field" }, h("label", { for: id }, labelText), control);
  if (hint) {
    const hintId = `${id}-hint`;
    wrap.append(h("p", { class: "hint", id: hintId }, hint));
    describedBy.push(hintId);
  }
  const errId = `${id}-error`;
  wrap.append(h("p", { class: "field-error", id: errId, hidden: !error }, error || ""));
  if (describedBy.length) control.setAttribute("aria-describedby", describedBy.join(" "));
  return wrap;
}

// Show server field errors next to their inputs (problem+json "errors"), by input name.
export function showErrors(form, errors) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  let first = null;
  for (const [name, messages] of Object.entries(errors || {})) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    const err = document.getElementById(`${input.id}-error`);
    if (!err) continue;
    err.textContent = messages.join(" ");
    err.hidden = false;
    input.setAttribute("aria-invalid", "true");
    const ids = new Set((input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
    ids.add(err.id);
    input.setAttribute("aria-describedby", [...ids].join(" "));
    first = first || input;
  }
  if (first) first.focus();
}

// A radio group rendered as large segmented buttons (44px targets, arrow keys work natively).
export function segmented(name, legend, options, selected) {
  return h(
    "fieldset",
    { class: "segmented" },
    h("legend", null, legend),
    h(
      "div",
      { class: "segments" },
      options.map(([value, label]) => {
        const id = nextId(name);
        return h(
          "span",
          { class: "segment" },
          h("input", { type: "radio", name, id, value, checked: String(value) === String(selected) }),
          h("label", { for: id }, label),
        );
      }),
    ),
  );
}

export function checkboxes(name, legend, options, selected = []) {
  return h(
    "fieldset",
    { class: "checks" },
    h("legend", null, legend),
    h(
      "div",
      { class: "check-grid" },
      options.map(([value, label]) => {
        const id = nextId(name);
        return h(
          "span",
          { class: "check" },
          h("input", { type: "checkbox", name, id, value, checked: selected.includes(value) }),
          h("label", { for: id }, label),
        );
      }),
    ),
  );
}

export function select(name, options, selected, attrs = {}) {
  return h(
    "select",
    { name, ...attrs },
    options.map(([value, label]) => h("option", { value, selected: String(value) === String(selected) }, label)),
  );
}

// Let the browser paint and handle input before the next piece of work (keeps tasks short).
export function yieldToBrowser() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
