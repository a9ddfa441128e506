// Building the page from API data with DOM calls only: text from the bank or the API never becomes markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// Loopback hosts (as URL.hostname writes them): only the local stack serves this page, and finAPI's sandbox, on one.
const LOOPBACK = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/;

// A URL from the bank or finAPI as a link the user may follow: https only. http only to a loopback host, and only
// while this page itself is served from loopback (the local stack, whose sandbox serves plain http). Anything else
// (javascript:, data:, http to the internet, user@host) is never a link. Returns the URL to use, or null.
export function safeLink(text, pageHost = location.hostname) {
  let url;
  try {
    url = new URL(String(text));
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  if (url.protocol === "https:") return url.href;
  if (url.protocol === "http:" && LOOPBACK.test(pageHost) && LOOPBACK.test(url.hostname)) return url.href;
  return null;
}

// A link to `url` when it is a safe one; otherwise `fallback`, as text: nothing to click.
export function link(url, attributes, text, fallback) {
  const href = url ? safeLink(url) : null;
  if (href === null) return h("span", { className: "unsafe-link", id: attributes.id ? `${attributes.id}-unavailable` : null }, fallback);
  return h("a", { ...attributes, href }, text);
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString("en-GB");
}

export function facts(rows) {
  return h("dl", { className: "facts" }, rows.filter(Boolean).flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function field(id, label, input = {}) {
  return h("div", { className: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...input }));
}

export function checkbox(id, label, input = {}) {
  return h("div", { className: "check" }, h("input", { type: "checkbox", id, name: id, ...input }), h("label", { for: id }, label));
}
