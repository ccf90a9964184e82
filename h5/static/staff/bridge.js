// The bridge to WeCom's JS-SDK (@wecom/jssdk, served from /h5/static/vendor/wecom.js): ww.register with both
// signatures from POST /api/v1/jssdk/config (wx.config's with the corp ticket, wx.agentConfig's with the app
// ticket: the chat APIs need the app's identity), a JSAPI call that failed re-signed with fresh tickets once and
// retried, and the API called with this page's session and CSRF token.
(function () {
  "use strict";
  var page = document.getElementById("staff");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var jsApiList = (page.dataset.jsApi || "").split(",");
  var signing = null;
  var resigned = false;

  function api(method, path, body) {
    return fetch(path, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || String(response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function signatures(url, refresh) {
    if (signing === null || refresh) {
      signing = api("POST", page.dataset.configUrl, {url: url.split("#")[0], refresh: !!refresh});
    }
    return signing;
  }

  function part(name) {
    return function (url) {
      return signatures(url || location.href).then(function (signed) {
        var s = signed[name];
        return {timestamp: s.timestamp, nonceStr: s.nonceStr, signature: s.signature};
      });
    };
  }

  function register() {
    ww.register({
      corpId: page.dataset.corpId,
      agentId: page.dataset.agentId,
      jsApiList: jsApiList,
      getConfigSignature: part("corp"),
      getAgentConfigSignature: part("agent")
    });
  }

  // A JSAPI call; when it fails the first time for want of permission (an expired or revoked ticket), sign
  // again with fresh tickets, register again and retry once. A cancel or a wrong entry is not retried.
  function call(name, args) {
    return Promise.resolve(ww[name](args || {})).catch(function (error) {
      if (resigned || !/permission|config|signature|ticket/i.test(describe(error))) { throw error; }
      resigned = true;
      return signatures(location.href, true).then(function () {
        register();
        return ww[name](args || {});
      });
    });
  }

  function describe(error) {
    return (error && (error.errMsg || error.message)) || String(error);
  }

  register();
  window.scrmStaff = {api: api, call: call, describe: describe, page: page};
})();
