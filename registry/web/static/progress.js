// Live progress of a running batch or job: asks the page's progress URL (same origin)
// and moves the bar; reloads the page when the work has ended. Without JavaScript the
// page refreshes itself (a meta refresh in <noscript>).
(function () {
  "use strict";
  var bar = document.getElementById("progress");
  if (!bar || !window.fetch) {
    return;
  }
  var url = bar.getAttribute("data-progress-url");
  var done = document.getElementById("progress-done");
  var total = document.getElementById("progress-total");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.total) {
          bar.max = state.total;
          bar.value = state.processed || 0;
          if (done) { done.textContent = String(state.processed || 0); }
          if (total) { total.textContent = String(state.total); }
        }
        if (state.state === "queued" || state.state === "running") {
          window.setTimeout(tick, 500);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(tick, 2000); });
  }
  window.setTimeout(tick, 300);
})();
