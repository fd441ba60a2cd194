// Lint: typescript-eslint's recommended rules on src/, test/ and bench/ (type-checking is tsc's job),
// plus the security rules of eslint-plugin-security (issue 6; policy and disable-comment rules in
// docs/security-lint.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import security from 'eslint-plugin-security';

// Code-execution rules: apply everywhere, tests and benchmarks included, because a stray eval or a
// Trojan Source bidi character (CVE-2021-42574) in a test is as dangerous as one in src/.
const everywhere = {
  'security/detect-eval-with-expression': 'error',
  'security/detect-bidi-characters': 'error',
  'no-eval': 'error',
  'no-new-func': 'error',
  'no-implied-eval': 'error',
};

// The rules for shipped code (src/, bin/, scripts/). The gateway runs regexes on untrusted input,
// so a ReDoS is a real vulnerability (API4), and secrets are compared in constant time.
const shipped = {
  ...everywhere,
  'security/detect-unsafe-regex': 'error',
  'security/detect-non-literal-regexp': 'error',
  'security/detect-non-literal-require': 'error',
  'security/detect-pseudoRandomBytes': 'error',
  'security/detect-possible-timing-attacks': 'error',
  'security/detect-buffer-noassert': 'error',
  'security/detect-child-process': 'error',
  'security/detect-new-buffer': 'error',
  // Off on purpose: Rampart is a config-file-driven CLI (every path it opens comes from the
  // operator's rampart.yaml or command line) and walks JSON documents by key; these two rules
  // flag every such line and found nothing real here: all noise, no signal.
  'security/detect-object-injection': 'off',
  'security/detect-non-literal-fs-filename': 'off',
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'artifacts/**', '.rampart*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts', 'bin/**', 'scripts/**/*.{js,mjs,cjs}'],
    plugins: { security },
    rules: shipped,
  },
  {
    // Tests and benchmarks start servers, spawn peers (sqlmap, openssl, redis-server) and build
    // regexes from fixtures on purpose; only the code-execution rules apply there.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    plugins: { security },
    rules: everywhere,
  },
  {
    // Tests read JSON bodies of many shapes; `any` there is the honest type.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
