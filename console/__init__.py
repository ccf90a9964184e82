"""The console: the admins' pages in a browser (`/console`): sign-in with a local account (`scrm user create`),
today's numbers of the corp, channel codes (list, create, edit, pause, resume, QR files) and their statistics
drawn with ECharts.

Thin views over scrm services, like h5/: each view parses the form or query, calls one service and renders. Every
page carries the strict Content-Security-Policy of `scrm.page_headers` (scripts and styles from this site only, no
inline script or style), every POST its CSRF token, and customer-controlled text reaches the page escaped.
"""
