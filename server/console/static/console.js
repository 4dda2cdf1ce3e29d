// Follows a message's status on its page until it is final.
(function () {
  var el = document.getElementById("status");
  if (!el) return;
  var url = el.getAttribute("data-status-url");
  var final = ["delivered", "failed", "expired", "rejected", "undeliverable"];
  var tries = 0;
  function poll() {
    if (final.indexOf(el.textContent) >= 0 || tries++ > 300) return;
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (m) {
        if (m && m.status) el.textContent = m.status;
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 500);
})();
