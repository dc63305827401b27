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

// Build log: older pages load on demand as the reader scrolls; the tail follows over server-sent events.
function liveLog() {
  const log = document.getElementById("log");
  if (!log) return;
  const state = document.getElementById("log-state");
  const more = document.getElementById("log-more");
  const base = "/console/builds/" + log.dataset.build + "/log";
  let next = Number(log.dataset.next), line = Number(log.dataset.line);
  let atEnd = log.dataset.atEnd === "true";
  let loading = false;
  let follow = true;
  window.addEventListener("scroll", () => {
    follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  }, { passive: true });
  const append = (html) => {
    log.insertAdjacentHTML("beforeend", html);
    if (follow && !location.hash) window.scrollTo(0, document.body.scrollHeight);
  };
  const loadPage = async () => {
    if (loading || atEnd) return;
    loading = true;
    try {
      const page = await getJSON(base + "?offset=" + next + "&line=" + line);
      log.insertAdjacentHTML("beforeend", page.html);
      next = page.next; line = page.line; atEnd = page.atEnd;
      if (atEnd) { if (more) more.remove(); startTail(); }
    } finally { loading = false; }
    if (!atEnd && more && isVisible(more)) loadPage();
  };
  const isVisible = (el) => el.getBoundingClientRect().top < window.innerHeight + 400;
  const startTail = () => {
    if (log.dataset.complete === "true" || startTail.started) return;
    startTail.started = true;
    state.textContent = "Following the log…";
    const source = new EventSource(base + "/stream?offset=" + next + "&line=" + line);
    source.addEventListener("lines", (e) => {
      const page = JSON.parse(e.data);
      next = page.next; line = page.line;
      append(page.html);
    });
    source.addEventListener("end", (e) => {
      state.textContent = "Build ended: " + e.data;
      log.dataset.complete = "true";
      source.close();
    });
  };
  if (more) {
    const link = more.querySelector("a");
    link.addEventListener("click", (e) => { e.preventDefault(); loadPage(); });
    new IntersectionObserver((entries) => {
      if (entries.some((en) => en.isIntersecting)) loadPage();
    }).observe(more);
  }
  if (atEnd) startTail();
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
