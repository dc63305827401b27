// Kiln console enhancements. Pages work without this script; it only localises times and keeps running
// builds live. All HTML inserted here was rendered and escaped by the server.
"use strict";

function localiseTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const t = new Date(el.getAttribute("datetime"));
    if (isNaN(t)) continue;
    el.textContent = t.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "short",
    });
  }
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

// Builds table: each running row refreshes itself every second until its build ends.
function liveRows() {
  for (const row of document.querySelectorAll("tr[data-live]")) {
    const url = row.dataset.live;
    const tick = async () => {
      try {
        const live = await getJSON(url);
        const current = document.getElementById(row.id);
        if (!current) return;
        const tmp = document.createElement("tbody");
        tmp.innerHTML = live.row;
        const fresh = tmp.firstElementChild;
        localiseTimes(fresh);
        current.replaceWith(fresh);
        if (live.complete) return;
      } catch (e) { /* try again */ }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
  }
}

// Build page: summary, actions and phases refresh every second while the build runs.
function liveBuild() {
  const box = document.getElementById("build-live");
  if (!box || box.dataset.complete === "true") return;
  const tick = async () => {
    try {
      const live = await getJSON(box.dataset.live);
      const summary = document.getElementById("summary");
      summary.innerHTML = live.summary;
      localiseTimes(summary);
      const actions = box.querySelector(".actions");
      if (actions) actions.outerHTML = live.actions;
      document.getElementById("phases").innerHTML = live.phases;
      if (live.complete) {
        const details = document.getElementById("details");
        details.innerHTML = live.details;
        localiseTimes(details);
        box.dataset.complete = "true";
        return;
      }
    } catch (e) { /* try again */ }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}

// Build log: further pages load on demand as the reader scrolls; "Jump to the end" (automatic while the build
// runs) loads the last page, leaving a gap that fills as the reader scrolls; the tail follows over SSE.
function liveLog() {
  const log = document.getElementById("log");
  if (!log) return;
  const state = document.getElementById("log-state");
  const more = document.getElementById("log-more");
  const base = "/console/builds/" + log.dataset.build + "/log";
  const running = log.dataset.complete !== "true";
  // head: where on-demand loading continues; tail: where the live stream continues.
  const head = { next: Number(log.dataset.next), line: Number(log.dataset.line) };
  let tail = null;
  let gap = null; // the element between the loaded head and a loaded tail
  let headDone = log.dataset.atEnd === "true";
  let loading = false;
  let follow = true;
  window.addEventListener("scroll", () => {
    follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  }, { passive: true });
  const isVisible = (el) => el.getBoundingClientRect().top < window.innerHeight + 400;
  const loadPage = async () => {
    if (loading || headDone) return;
    loading = true;
    try {
      const until = gap ? "&until=" + gap.dataset.start : "";
      const page = await getJSON(base + "?offset=" + head.next + "&line=" + head.line + until);
      (gap || log).insertAdjacentHTML(gap ? "beforebegin" : "beforeend", page.html);
      head.next = page.next; head.line = page.line;
      if (gap && head.next >= Number(gap.dataset.start)) { gap.remove(); gap = null; headDone = true; }
      else if (!gap && page.atEnd) { headDone = true; tail = { ...head }; startTail(); }
      if (headDone && more) more.remove();
    } finally { loading = false; }
    if (!headDone && ((gap && isVisible(gap)) || (!gap && more && isVisible(more)))) loadPage();
  };
  const jumpToEnd = async () => {
    if (tail || headDone) { window.scrollTo(0, document.body.scrollHeight); return; }
    const page = await getJSON(base + "?offset=" + head.next + "&line=" + head.line + "&tail=true");
    if (page.start > head.next) {
      gap = document.createElement("div");
      gap.className = "log-gap";
      gap.dataset.start = page.start;
      gap.textContent = "… lines " + head.line + "–" + (page.startLine - 1) + " load as you scroll up to here …";
      log.appendChild(gap);
      if (more) observer.unobserve(more); // below the tail now: the gap is what loads on scroll
    } else { headDone = true; if (more) more.remove(); }
    log.insertAdjacentHTML("beforeend", page.html);
    tail = { next: page.next, line: page.line };
    window.scrollTo(0, document.body.scrollHeight);
    // Watch the gap only from down here, so it fills when the reader scrolls back up to it.
    if (gap) requestAnimationFrame(() => observer.observe(gap));
    startTail();
  };
  const startTail = () => {
    if (log.dataset.complete === "true" || startTail.started || !tail) return;
    startTail.started = true;
    state.textContent = "Following the log…";
    const source = new EventSource(base + "/stream?offset=" + tail.next + "&line=" + tail.line);
    source.addEventListener("lines", (e) => {
      const page = JSON.parse(e.data);
      tail.next = page.next; tail.line = page.line;
      log.insertAdjacentHTML("beforeend", page.html);
      if (follow && !location.hash) window.scrollTo(0, document.body.scrollHeight);
    });
    source.addEventListener("end", (e) => {
      state.textContent = "Build ended: " + e.data;
      log.dataset.complete = "true";
      source.close();
    });
  };
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((en) => en.isIntersecting)) loadPage();
  });
  if (more) {
    more.querySelector("a.log-more").addEventListener("click", (e) => { e.preventDefault(); loadPage(); });
    more.querySelector("a.log-jump").addEventListener("click", (e) => { e.preventDefault(); jumpToEnd(); });
    observer.observe(more);
  }
  if (headDone) { tail = { ...head }; startTail(); }
  else if (running && !location.hash) jumpToEnd();
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) target.scrollIntoView();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localiseTimes(document);
  liveRows();
  liveBuild();
  liveLog();
});
