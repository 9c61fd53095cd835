// Posts the lakeport diff report on a pull request: one comment per part (the report is split at
// 65,536 characters, GitHub's limit), updated in place on every push; parts a later run no longer
// needs are deleted. Used by action.yml (actions/github-script); `files` are the part files that
// `lakeport diff -o markdown --split-dir` listed.
module.exports = async ({ github, context, files }) => {
  const fs = require('fs');
  const marker = '<!-- lakeport-diff';
  const parts = files.map((f) => fs.readFileSync(f, 'utf8'));
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
  const partOf = (body) => Number((body.match(/^<!-- lakeport-diff part (\d+) of/) || [])[1] || 0);
  const ours = comments
    .filter((c) => c.user.type === 'Bot' && c.body.startsWith(marker))
    .sort((a, b) => partOf(a.body) - partOf(b.body));
  for (let i = 0; i < parts.length; i++) {
    if (i < ours.length) {
      if (ours[i].body !== parts[i]) {
        await github.rest.issues.updateComment({ owner, repo, comment_id: ours[i].id, body: parts[i] });
      }
    } else {
      await github.rest.issues.createComment({ owner, repo, issue_number, body: parts[i] });
    }
  }
  for (const stale of ours.slice(parts.length)) {
    await github.rest.issues.deleteComment({ owner, repo, comment_id: stale.id });
  }
};
