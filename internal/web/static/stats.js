// stats.js refreshes the statistics page every few seconds without
// reloading it: it fetches the page again and swaps in its #stats part,
// which the server renders whole, chart included. The page's Content
// Security Policy lets this file, and no other script, run.
"use strict";
(() => {
  const seconds = Number(document.getElementById("stats")?.dataset.refresh) || 5;
  async function refresh() {
    try {
      const resp = await fetch(location.pathname, { cache: "no-store", credentials: "same-origin" });
      if (resp.ok) {
        const fresh = new DOMParser().parseFromString(await resp.text(), "text/html").getElementById("stats");
        const shown = document.getElementById("stats");
        if (fresh && shown) {
          shown.replaceWith(fresh);
        }
      }
    } catch {
      // Keep the figures shown; the next refresh tries again.
    }
    setTimeout(refresh, seconds * 1000);
  }
  setTimeout(refresh, seconds * 1000);
})();
