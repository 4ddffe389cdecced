// The console's only script, compiled into the binary. Every page works without it; it adds two
// things: the sync page follows a run in progress without a reload, and a run's lines filter as
// one types.
"use strict";

function follow(section) {
  const text = section.querySelector("#progress-text");
  const url = section.dataset.follow;
  // A run the page was rendered with counts as seen, however soon it ends.
  let wasRunning = section.dataset.running === "true";
  async function tick() {
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (answer.ok) {
        const p = await answer.json();
        if (p.running) {
          wasRunning = true;
          const of = p.total === null ? " so far" : " of " + p.total;
          text.textContent = "Run " + p.run + " (" + p.mode + ") is " + p.stage + ": " + p.done + of;
        } else if (wasRunning) {
          wasRunning = false;
          text.textContent = "The run has ended: see ";
          const link = document.createElement("a");
          link.href = "/runs";
          link.textContent = "Runs";
          text.appendChild(link);
          text.appendChild(document.createTextNode("."));
        }
      }
    } catch (e) {
      // The server is restarting: try again at the next tick.
    }
    setTimeout(tick, 1000);
  }
  tick();
}

function filterAsYouType(form) {
  const items = Array.from(document.querySelectorAll("#lines li"));
  const count = document.getElementById("line-count");
  const event = form.querySelector("#event");
  const q = form.querySelector("#q");
  function apply() {
    const text = q.value.trim().toLowerCase();
    let shown = 0;
    for (const li of items) {
      const ok = (!event.value || li.dataset.event === event.value) &&
        (!text || li.textContent.toLowerCase().includes(text));
      li.hidden = !ok;
      if (ok) shown += 1;
    }
    count.textContent = shown + " of " + items.length + " lines shown";
  }
  q.addEventListener("input", apply);
}

document.addEventListener("DOMContentLoaded", () => {
  const progress = document.querySelector("[data-follow]");
  if (progress) follow(progress);
  const filter = document.getElementById("line-filter");
  if (filter) filterAsYouType(filter);
});
