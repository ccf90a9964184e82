# Two commands for a fresh machine: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SCRM   := $(VENV)/bin/scrm
STAMP  := $(VENV)/.installed
SANDBOX_PTH := $(VENV)/.sandbox-on-path
FONT   := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
CHROMIUM := /usr/bin/chromium
VENDOR := node_modules/.scrm-vendor
CATALOG := scrm/translations/en/LC_MESSAGES/messages.mo
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: setup run test test-sqlite test-mysql worker beat bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The host emulator (sandbox/) is not part of the scrm distribution, so a production install leaves it out. The
# embedded default and the tests use it from this checkout: a .pth file puts the checkout on the venv's path.
$(SANDBOX_PTH): $(STAMP)
	echo '$(CURDIR)' > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/scrm-sandbox.pth"
	touch $@

# $(call apt_install,PACKAGE,HINT): install a Debian package (as root, or with sudo); where apt-get is missing or
# fails, print HINT instead of failing, so setup still works on other systems.
define apt_install
hint="$(2)"; \
if ! command -v apt-get >/dev/null; then echo "$$hint"; exit 0; fi; \
sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
{ $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
  && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } \
|| echo "$$hint"
endef

# The CJK font posters are drawn with (Debian's fonts-wqy-microhei); a file target, so it runs only while missing.
$(FONT):
	@if [ -n "$$SCRM_POSTER_FONT" ] && [ -r "$$SCRM_POSTER_FONT" ]; then exit 0; fi; \
	$(call apt_install,fonts-wqy-microhei,posters need a CJK font: install Debian's fonts-wqy-microhei or set SCRM_POSTER_FONT to a CJK font file)

# Headless Chromium for the browser test of the landing page (Debian's chromium); a file target like the font.
$(CHROMIUM):
	@$(call apt_install,--no-install-recommends chromium,the browser test needs Debian's chromium at $(CHROMIUM))

# Front-end assets pinned in package-lock.json and served by the backend itself (no CDN: private deployments have
# no internet): WeUI and the host SDKs for the H5 pages, Swagger UI for the API docs, ECharts for the console.
# Rebuilt when missing or when the lock or the build changes.
$(VENDOR): package-lock.json assets/build.sh assets/dingtalk.js assets/echarts.js
	npm ci --no-audit --no-fund --loglevel=error
	sh assets/build.sh
	touch $@

# The English catalog of the pages (Chinese is the source language), compiled from the .po kept in git.
$(CATALOG): scrm/translations/en/LC_MESSAGES/messages.po $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -d scrm/translations

## setup: install everything the service needs (idempotent); the tests also install Chromium
setup: $(STAMP) $(SANDBOX_PTH) $(FONT) $(VENDOR) $(CATALOG)

## run: migrate and serve on the embedded default (SQLite, in-process tasks, sandbox corps synced) at $(HOST):$(PORT)
run: setup
	$(SCRM) db upgrade
	$(SCRM) sandbox connect --if-empty --seed 1
	$(SCRM) serve --host $(HOST) --port $(PORT)

## test: the whole suite on SQLite, then again on MySQL + Redis (+ a real worker) when
##       SCRM_TEST_MYSQL_URL and SCRM_TEST_REDIS_URL are set
test: setup $(CHROMIUM)
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$SCRM_TEST_MYSQL_URL" ] && [ -n "$$SCRM_TEST_REDIS_URL" ]; then \
		$(MAKE) --no-print-directory test-mysql; \
	else echo "MySQL + Redis leg not run: set SCRM_TEST_MYSQL_URL and SCRM_TEST_REDIS_URL"; fi

test-sqlite: setup
	@echo "== test leg: sqlite (embedded, in-process tasks)"
	SCRM_TEST_LEG=sqlite $(PY) -m pytest

test-mysql: setup
	@echo "== test leg: mysql + redis + real celery worker"
	SCRM_TEST_LEG=mysql $(PY) -m pytest

worker: setup
	$(SCRM) worker

beat: setup
	$(SCRM) beat

clean:
	rm -rf $(VENV) instance
