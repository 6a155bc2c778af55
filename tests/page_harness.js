// Runs the live page's script (web/index.html) in Node against a few-line stand-in for the DOM,
// EventSource and fetch, plays a scripted event stream into it and prints what the page showed, as
// JSON, for tests/test_page.py. Usage: node page_harness.js index.html
"use strict";
const html = require("fs").readFileSync(process.argv[2], "utf8");
const script = html.slice(html.indexOf("<script>") + "<script>".length, html.indexOf("</script>"));

class Element {
  constructor(tag, className = "") {
    Object.assign(this, {tag, className, children: [], text: "", parent: null});
    this.style = {setProperty: (name, value) => { this.style[name] = value; }};
  }
  get textContent() { return this.text + this.children.map((c) => c.textContent ?? c).join(""); }
  set textContent(text) { this.text = text; this.children = []; }
  set innerHTML(markup) {  // enough for the page's own templates: <tag class="name">text
    for (const [, tag, className, text] of markup.matchAll(/<(\w+)(?: [^>]*?class="([\w ]+)")?[^>]*>([^<]*)/g)) {
      const child = new Element(tag, className);
      child.text = text.trim();
      this.appendChild(child);
    }
  }
  appendChild(child) { if (child instanceof Element) child.parent = this; this.children.push(child); return child; }
  append(...children) { children.forEach((child) => this.appendChild(child)); }
  prepend(child) { child.parent = this; this.children.unshift(child); }
  remove() { this.parent.children = this.parent.children.filter((c) => c !== this); }
  get lastElementChild() { return this.children.at(-1); }
  querySelector(selector) {
    for (const child of this.children.filter((c) => c instanceof Element)) {
      const match = selector.startsWith(".") ? child.className.split(" ").includes(selector.slice(1)) : child.tag === selector;
      const found = match ? child : child.querySelector(selector);
      if (found) return found;
    }
    return null;
  }
  getContext() { return new Proxy({}, {get: () => () => {}, set: () => true}); }
}

const byId = Object.fromEntries(["video", "legend", "faces", "changes", "status", "mood"].map((id) => [id, new Element("div")]));
const root = new Element("html");
const listeners = {}, fetched = [], timers = [];
let status = 202, eventsUrl = null;
Object.assign(global, {
  document: {
    getElementById: (id) => byId[id], createElement: (tag) => new Element(tag), documentElement: root,
    querySelector: (selector) => (selector === 'meta[name="write-token"]' ? {content: "w-tok"} : null),
  },
  getComputedStyle: () => ({getPropertyValue: () => " #2b2d31"}),
  location: {search: "?token=s3 cret"},
  EventSource: class { constructor(url) { eventsUrl = url; } addEventListener(name, handler) { listeners[name] = handler; } },
  fetch: async (url, options) => { fetched.push([url, options]); return {status}; },
  setInterval: () => {},
  setTimeout: (callback) => timers.push(callback),
});
eval(script);

const send = (name, data) => listeners[name]({data: JSON.stringify({event: name, ...data})});
const face = (calibrating) => ({id: 1, box: [0, 0, 10, 10], label: "happy", calibrating,
  probabilities: {angry: 0.1, disgust: 0, fear: 0, happy: 0.7, sad: 0.2, surprise: 0, neutral: 0}});
const shown = {stream: byId.video.src, events: eventsUrl, legend: byId.legend.textContent};
send("frame", {faces: [face(true)]});
const panel = byId.faces.children[0];
Object.assign(shown, {title: panel.querySelector("h2").textContent, calibrating: panel.querySelector(".state").textContent,
                      mood: root.style["--mood"], moodName: byId.mood.textContent});
send("frame", {faces: [face(false)]});
shown.calibrated = panel.querySelector(".state").textContent;
for (const [from, to] of [["sad", "happy"], ["happy", "neutral"], ["neutral", "sad"], ["sad", "fear"], ["fear", "angry"], ["angry", "sad"], ["sad", "happy"]]) {
  send("change", {id: 1, from, to, confidence: 0.7, time: 1});
}
shown.log = byId.changes.children.map((item) => item.textContent);
(async () => {
  shown.answers = {};
  for (status of [202, 404, 409, 403]) {
    await panel.querySelector("button").onclick();
    await new Promise((resolve) => setImmediate(resolve));
    shown.answers[status] = panel.querySelector(".answer").textContent;
  }
  shown.fetch = fetched[0];
  timers.forEach((callback) => callback());
  shown.answerLater = panel.querySelector(".answer").textContent;
  send("calibrated", {id: 1});
  shown.calibratedAnswer = panel.querySelector(".answer").textContent;
  send("face_leave", {id: 1});
  send("frame", {faces: []});
  Object.assign(shown, {panelsLeft: byId.faces.children.length, moodAfter: root.style["--mood"], moodNameAfter: byId.mood.textContent});
  console.log(JSON.stringify(shown));
})();
