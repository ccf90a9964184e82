// DingTalk sign-in: a single-use free-login code from dd.requestAuthCode, posted with this sign-in's state; the
// server answers the page to go back to, or why not.
(function () {
  "use strict";
  var page = document.getElementById("dd-signin");
  function show(title, text) {
    document.getElementById("signin-title").textContent = title;
    document.getElementById("signin-text").textContent = text;
  }
  function post(code) {
    var form = new FormData();
    form.append("code", code);
    form.append("state", page.dataset.state);
    form.append("csrf_token", page.dataset.csrf);
    return fetch(page.dataset.url, {method: "POST", body: form, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.next) { location.replace(answer.next); } else { show(answer.title || "", answer.message || ""); }
      });
  }
  dd.requestAuthCode({corpId: page.dataset.corpId, clientId: page.dataset.clientId})
    .then(function (result) { return post(result.code); })
    .catch(function (err) { show(page.dataset.failed, (err && (err.errorMessage || err.message)) || ""); });
})();
