#!/bin/sh
# The pages' front-end assets, from the npm packages pinned in package-lock.json, into the folders the backend
# serves them from (no CDN). Run from the checkout after `npm ci`; `make setup` and the Dockerfile both do.
set -eu
mkdir -p h5/static/vendor scrm/api/static/vendor console/static/vendor
cp node_modules/weui/dist/style/weui.min.css h5/static/vendor/
cp node_modules/@wecom/jssdk/dist/wecom.global.prod.js h5/static/vendor/wecom.js
# dingtalk-jsapi ships CommonJS only, and ECharts is cut to the charts the console draws: esbuild bundles both
node_modules/.bin/esbuild assets/dingtalk.js --bundle --minify --format=iife --log-level=warning \
  --outfile=h5/static/vendor/dingtalk.js
node_modules/.bin/esbuild assets/echarts.js --bundle --minify --format=iife --log-level=warning \
  --outfile=console/static/vendor/echarts.js
cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/favicon-32x32.png \
  node_modules/swagger-ui-dist/swagger-ui-bundle.js scrm/api/static/vendor/
