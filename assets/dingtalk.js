// dingtalk-jsapi as the one global the pages use (`window.dd`), bundled at setup: the npm package ships CommonJS only.
window.dd = require("dingtalk-jsapi");
