// The toolbar's entry page: which chat is this? A single chat opens the customer's page, a group chat the
// group's; anything else says where to open the sidebar from.
(function () {
  "use strict";
  var staff = window.scrmStaff, page = staff.page;
  var SINGLE = ["single_chat_tools", "contact_profile", "single_kf_tools"];
  function show(text) {
    document.querySelector(".weui-loading").className = "weui-icon-info weui-icon_msg";
    document.getElementById("boot-title").textContent = text;
  }
  staff.call("getContext").then(function (context) {
    if (SINGLE.indexOf(context.entry) >= 0) {
      return staff.call("getCurExternalContact").then(function (found) {
        location.replace(page.dataset.customerUrl + encodeURIComponent(found.userId));
      });
    }
    if (context.entry === "group_chat_tools") {
      return staff.call("getCurExternalChat").then(function (found) {
        location.replace(page.dataset.groupUrl + encodeURIComponent(found.chatId));
      });
    }
    show(page.dataset.noChat);
  }).catch(function (error) {
    show(page.dataset.failed + staff.describe(error));
  });
})();
