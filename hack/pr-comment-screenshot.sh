#!/usr/bin/env bash
# pr-comment-screenshot.sh: docs/images/pr-comment.png, the pull-request comment of
# docs/adopt.md's walk-through as a browser shows it.
#
# The comment's Markdown is docs/images/pr-comment.md, which TestPRCommentScreenshotSource holds
# equal to the comment docs/adopt.md quotes (itself the output of `lakeport diff -o markdown`,
# checked by TestWalkthroughToPullRequestPreview). When that test fails, run this script:
#
#   hack/pr-comment-screenshot.sh
#
# It renders the Markdown as GitHub-flavoured Markdown (goldmark, from the Go module proxy, in a
# throwaway module: the repository's go.mod does not carry it) into a page styled like a comment,
# then takes a screenshot with headless Chromium (apt-get install chromium). Not run by the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z $chrome ]]; then
	echo "pr-comment-screenshot: no Chromium: apt-get install chromium" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The comment's Markdown: the block quote after <!-- comment --> in docs/adopt.md, unquoted.
awk '/^<!-- comment -->$/ {on=1; next} on && /^>/ {sub(/^> ?/, ""); print; next} on {exit}' docs/adopt.md > "$work/comment.md"
if ! cmp -s "$work/comment.md" docs/images/pr-comment.md; then
	cp "$work/comment.md" docs/images/pr-comment.md
	echo "pr-comment-screenshot: docs/images/pr-comment.md updated from docs/adopt.md" >&2
fi

mkdir "$work/gen"
cat > "$work/gen/go.mod" <<'MOD'
module prcomment

go 1.26

require github.com/yuin/goldmark v1.8.7
MOD
cat > "$work/gen/main.go" <<'GO'
// Command prcomment prints a Markdown file (stdin) as an HTML page styled like a pull-request
// comment.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

const page = `<!doctype html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; padding: 16px; background: #fff; font: 14px/1.5 "DejaVu Sans", sans-serif; color: #1f2328; }
.comment { width: 820px; border: 1px solid #d1d9e0; border-radius: 6px; }
.head { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px; border-radius: 6px 6px 0 0; color: #59636e; }
.head b { color: #1f2328; }
.body { padding: 8px 16px 16px; }
h3 { font-size: 16px; margin: 12px 0 8px; }
code { font: 12px "DejaVu Sans Mono", monospace; background: #eff1f3; padding: 2px 4px; border-radius: 4px; }
pre { background: #f6f8fa; padding: 12px; border-radius: 6px; overflow: hidden; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d1d9e0; padding: 4px 12px; }
th { background: #f6f8fa; }
details { margin: 8px 0; }
summary { cursor: pointer; }
pre code { line-height: 1.6; }
.ln { display: block; min-height: 1.6em; }
.add { background: #dafbe1; }
.del { background: #ffebe9; }
</style></head><body><div class="comment">
<div class="head"><b>github-actions</b> bot commented</div>
<div class="body">%s</div></div>
<script>
// Colour the added and removed lines of a diff block, as GitHub does.
for (const c of document.querySelectorAll("code.language-diff")) {
  c.innerHTML = c.innerHTML.replace(/\n$/, "").split("\n").map(l =>
    '<span class="ln' + (l.startsWith("+") ? " add" : l.startsWith("-") ? " del" : "") + '">' + l + '</span>').join("");
}
</script></body></html>
`

func main() {
	src, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	var body bytes.Buffer
	if err := md.Convert(src, &body); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf(page, body.String())
}
GO
(cd "$work/gen" && go mod tidy) >&2
(cd "$work/gen" && go run .) < docs/images/pr-comment.md > "$work/comment.html"

# Open the details, as a reader who clicks on the application does. (Emoji need a colour emoji
# font: apt-get install fonts-noto-color-emoji.)
sed -i 's/<details>/<details open>/g' "$work/comment.html"
"$chrome" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
	--window-size=860,620 --screenshot="$work/shot.png" "file://$work/comment.html" >/dev/null 2>&1
mv "$work/shot.png" docs/images/pr-comment.png
echo "pr-comment-screenshot: wrote docs/images/pr-comment.png" >&2
