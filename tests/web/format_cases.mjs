// Run by tests/web/test_i18n_format.py: web/src/i18n/format.ts, transpiled by the project's own
// TypeScript, applied to the cases given on stdin (JSON); prints the results as JSON.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const web = resolve(process.argv[2])
const ts = createRequire(join(web, 'package.json'))('typescript')
const source = readFileSync(join(web, 'src', 'i18n', 'format.ts'), 'utf8')
const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
const file = join(mkdtempSync(join(tmpdir(), 'hub-format-')), 'format.mjs')
writeFileSync(file, js)
const F = await import(pathToFileURL(file).href)
const cases = JSON.parse(readFileSync(0, 'utf8'))
const out = cases.map(([fn, ctx, ...args]) => (ctx === null ? F[fn](...args) : F[fn](ctx, ...args)))
console.log(JSON.stringify(out))
