// chipTAN optical ("flicker code"): the TAN generator reads five bars: one clock bar and four data bars per
// half-byte, after a synchronisation sequence. Each half-byte is shown twice, once per clock phase.
import { h } from "./dom.js";

const SYNC = "0FFF";
const FRAME_MS = 80;

function frames(code) {
  const shown = [];
  for (const digit of SYNC + code.replace(/[^0-9A-Fa-f]/g, "")) {
    const value = parseInt(digit, 16);
    const bits = [1, 2, 4, 8].map((bit) => (value & bit) !== 0);
    shown.push([true, ...bits], [false, ...bits]);
  }
  return shown;
}

export function flicker(code) {
  const bars = [0, 1, 2, 3, 4].map(() => h("span", {}));
  const sequence = frames(code);
  let index = 0;
  let timer = null;
  const draw = () => {
    sequence[index].forEach((on, bar) => bars[bar].classList.toggle("on", on));
    index = (index + 1) % sequence.length;
  };
  const start = () => (timer = setInterval(draw, FRAME_MS));
  const stop = () => {
    clearInterval(timer);
    timer = null;
  };
  const toggle = h("button", { type: "button", id: "flicker-toggle", className: "secondary" }, "Pause flicker");
  toggle.addEventListener("click", () => {
    if (timer) stop();
    else start();
    toggle.textContent = timer ? "Pause flicker" : "Resume flicker";
  });
  draw();
  start();
  const graphic = h("div", { className: "flicker", role: "img", "aria-label": "Flicker code for your TAN generator" }, bars);
  const view = h("div", { id: "flicker" }, graphic, h("div", {}, toggle), h("p", { className: "hint" }, "Code: ", h("code", {}, code)));
  view.stop = stop;
  return view;
}
