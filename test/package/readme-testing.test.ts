/**
 * The README's "Testing your code" examples run as a user runs them: each `js` block is a
 * node:test file importing the package by its name (through package.json `exports`, from the
 * build), run in a child process, and must pass every test it declares. The vitest-shaped
 * block is shown as text; it must at least be valid TypeScript.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';

const root = process.cwd();
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const start = readme.indexOf('\n## Testing your code\n');
const end = readme.indexOf('\n## ', start + 1);
const section = readme.slice(start, end < 0 ? undefined : end);
const blocks = (lang: string) =>
  [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);

// Inside the package, so `httpool` resolves to this checkout by its own name.
const dir = join(root, 'build', 'readme-testing');

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

after(() => rmSync(dir, { recursive: true, force: true }));

test('the section is there, with runnable examples and a vitest one', () => {
  assert.ok(start >= 0, 'no "Testing your code" section');
  assert.ok(blocks('js').length >= 3, `found ${blocks('js').length} js blocks`);
  assert.equal(blocks('ts').filter((code) => code.includes("from 'vitest'")).length, 1);
});

for (const [index, code] of blocks('js').entries()) {
  const declared = [...code.matchAll(/^test\(/gm)].length;
  test(`README testing example ${index + 1} passes its ${declared} tests`, async () => {
    assert.ok(declared > 0, 'the example declares no test');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example-${index + 1}.test.mjs`);
    writeFileSync(file, code);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--test', '--test-reporter=tap', file],
      // Without the parent's test-runner context, the child reports on its own stdout.
      { cwd: root, timeout: 60_000, env: childEnv() },
    ).catch((error: { stdout?: string }) => {
      assert.fail(`the example failed:\n${error.stdout ?? String(error)}`);
    });
    assert.match(stdout, new RegExp(`^# pass ${declared}$`, 'm'), stdout);
    assert.match(stdout, /^# fail 0$/m, stdout);
  });
}

test('the vitest example is valid TypeScript', () => {
  for (const code of blocks('ts').filter((block) => block.includes("from 'vitest'"))) {
    const { diagnostics = [] } = ts.transpileModule(code, {
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    assert.deepEqual(
      diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      [],
    );
  }
});
