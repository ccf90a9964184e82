// The customer's page: quick replies searched on the page, and sent into the chat with sendChatMessage (the
// server gives the message: one type only, link cards with a picture, images as the host's media id); each
// send is counted.
(function () {
  "use strict";
  var staff = window.scrmStaff, page = staff.page;

  function toast(text, failed) {
    var line = document.createElement("div");
    line.className = "toast-line toast-line_" + (failed ? "error" : "ok") + " toast-line_float";
    line.setAttribute("role", "status");
    line.textContent = text;
    document.body.appendChild(line);
    setTimeout(function () { line.remove(); }, 2500);
  }

  var search = document.getElementById("reply-search");
  if (search) {
    search.addEventListener("input", function () {
      var needle = search.value.trim().toLowerCase();
      document.querySelectorAll(".reply").forEach(function (row) {
        row.hidden = needle !== "" && row.dataset.search.indexOf(needle) < 0;
      });
      document.querySelectorAll(".reply-group").forEach(function (group) {
        group.hidden = group.querySelectorAll(".reply:not([hidden])").length === 0;
      });
    });
  }

  document.querySelectorAll(".reply .send").forEach(function (button) {
    button.addEventListener("click", function () {
      var id = button.closest(".reply").dataset.replyId;
      button.disabled = true;
      staff.api("POST", "/api/v1/quick-replies/" + id + "/message")
        .then(function (message) { return staff.call("sendChatMessage", message); })
        .then(function () { return staff.api("POST", "/api/v1/quick-replies/" + id + "/used"); })
        .then(function () { toast(page.dataset.sent); })
        .catch(function (error) { toast(page.dataset.sendFailed + staff.describe(error), true); })
        .then(function () { button.disabled = false; });
    });
  });
})();
