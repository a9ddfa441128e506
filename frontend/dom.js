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
