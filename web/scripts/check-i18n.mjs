#!/usr/bin/env node
// Build-time i18n check (run by `npm run build`; `node scripts/check-i18n.mjs` alone works too).
//
// 1. Templates: no user-visible text in a .vue <template> outside t(): text nodes, the translatable
//    attributes (placeholder, title, aria-label, alt, label) with letters (Latin or CJK), and string
//    literals an interpolation or a bound translatable attribute would show. Text that must stay as
//    written (a brand, a sample) sits in an element with translate="no". Files not yet converted
//    are listed in scripts/i18n-allowlist.txt (that list must end empty; an entry whose files are
//    clean fails the check, so the list only shrinks).
// 2. Catalogues (src/i18n/locales/<locale>/<area>.json): every locale has the same areas and keys,
//    the same {placeholders} in each message, every message compiles, and every key the code uses
//    literally (t('area.key'), $t, te, keypath="…") exists.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs'
import { join, relative, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from '@vue/compiler-sfc'
import { baseCompile } from '@intlify/message-compiler'

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..')
const SRC = join(WEB, 'src')
const LOCALES = join(SRC, 'i18n', 'locales')
const ALLOWLIST = join(WEB, 'scripts', 'i18n-allowlist.txt')
const TRANSLATABLE = new Set(['placeholder', 'title', 'aria-label', 'alt', 'label'])
const LETTER = /[\p{L}]/u

// Vue template AST node types (@vue/compiler-core NodeTypes)
const ELEMENT = 1, TEXT = 2, INTERPOLATION = 5, ATTRIBUTE = 6, DIRECTIVE = 7

function walkFiles(dir, exts, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walkFiles(p, exts, out)
    else if (exts.some((e) => name.endsWith(e))) out.push(p)
  }
  return out
}

const rel = (p) => relative(WEB, p).split('\\').join('/')

/** Remove t(...) / $t(...) / te(...) calls (balanced parentheses) from an expression. */
function stripTranslated(expr) {
  let out = ''
  for (let i = 0; i < expr.length; i++) {
    const m = /^(?<![\w$])(?:\$?t|\$?te|\$?tm|\$?d|\$?n|rt)\(/.exec(expr.slice(i))
    const prev = i > 0 ? expr[i - 1] : ''
    if (m && !/[\w$]/.test(prev)) {
      let depth = 0
      let j = i + m[0].length - 1
      for (; j < expr.length; j++) {
        if (expr[j] === '(') depth++
        else if (expr[j] === ')' && --depth === 0) break
      }
      i = j
      out += '0'
      continue
    }
    out += expr[i]
  }
  return out
}

/** String literals an expression would show: the whole expression, or a branch of ?:, ||, ??. */
function shownLiterals(expr) {
  const e = stripTranslated(expr)
  const found = []
  const re = /(?:^|\?|:|\|\||\?\?|\()\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g
  for (let m; (m = re.exec(e)); ) {
    const text = m[1] === '`' ? m[2].replace(/\$\{[^}]*\}/g, '') : m[2]
    if (LETTER.test(text)) found.push(text)
  }
  return found
}

function templateProblems(file) {
  const { descriptor } = parse(readFileSync(file, 'utf8'), { filename: file })
  const ast = descriptor.template?.ast
  if (!ast) return []
  const problems = []
  const report = (node, what) => problems.push(`${rel(file)}:${node.loc.start.line}: ${what}`)
  const visit = (node) => {
    if (node.type === ELEMENT) {
      if (node.props.some((p) => p.type === ATTRIBUTE && p.name === 'translate' && p.value?.content === 'no')) return
      for (const p of node.props) {
        if (p.type === ATTRIBUTE && TRANSLATABLE.has(p.name) && p.value && LETTER.test(p.value.content))
          report(p, `${p.name}="${p.value.content}"`)
        if (p.type === DIRECTIVE && p.name === 'bind' && p.arg?.content && TRANSLATABLE.has(p.arg.content) && p.exp)
          for (const lit of shownLiterals(p.exp.content)) report(p, `:${p.arg.content} shows '${lit}'`)
      }
    }
    if (node.type === TEXT && LETTER.test(node.content)) report(node, `text "${node.content.trim().slice(0, 60)}"`)
    if (node.type === INTERPOLATION && node.content?.content)
      for (const lit of shownLiterals(node.content.content)) report(node, `{{ }} shows '${lit}'`)
    for (const c of node.children ?? []) visit(c)
    // v-if / v-for wrappers keep their content in branches
    for (const b of node.branches ?? []) visit(b)
  }
  visit(ast)
  return problems
}

function readAllowlist() {
  if (!existsSync(ALLOWLIST)) return []
  return readFileSync(ALLOWLIST, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
}

function checkTemplates(errors) {
  const allow = readAllowlist()
  const used = new Set()
  for (const file of walkFiles(SRC, ['.vue'])) {
    const r = rel(file)
    const problems = templateProblems(file)
    const entry = allow.find((a) => r === a || (a.endsWith('/') && r.startsWith(a)))
    if (entry) {
      if (problems.length) used.add(entry)
      continue
    }
    errors.push(...problems.map((p) => `raw text outside t(): ${p}`))
  }
  for (const a of allow)
    if (!used.has(a)) errors.push(`${rel(ALLOWLIST)}: "${a}" has no raw text left (or no such file): remove it from the list`)
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out)
    else out.set(key, v)
  }
  return out
}

function placeholders(msg) {
  return [...String(msg).matchAll(/\{\s*([\w]+)\s*\}/g)].map((m) => m[1]).sort().join(',')
}

function loadCatalogues(errors) {
  const cats = {}
  for (const locale of readdirSync(LOCALES)) {
    const dir = join(LOCALES, locale)
    if (!statSync(dir).isDirectory()) continue
    const keys = new Map()
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const area = f.replace(/\.json$/, '')
      let data
      try {
        data = JSON.parse(readFileSync(join(dir, f), 'utf8'))
      } catch (e) {
        errors.push(`${rel(join(dir, f))}: not valid JSON: ${e.message}`)
        continue
      }
      flatten(data, area, keys)
    }
    cats[locale] = keys
  }
  return cats
}

function checkCatalogues(errors) {
  const cats = loadCatalogues(errors)
  const locales = Object.keys(cats)
  if (!locales.includes('zh-CN') || !locales.includes('en')) errors.push('catalogues: both zh-CN and en are required')
  const all = new Set(locales.flatMap((l) => [...cats[l].keys()]))
  for (const key of all) {
    for (const l of locales) {
      const msg = cats[l].get(key)
      if (msg === undefined) {
        errors.push(`catalogue ${l}: missing key ${key}`)
        continue
      }
      if (typeof msg !== 'string') {
        errors.push(`catalogue ${l}: ${key} is not a string`)
        continue
      }
      baseCompile(msg, { onError: (e) => errors.push(`catalogue ${l}: ${key}: ${e.message} in "${msg}" (write @ { } | $ as {'@'})`) })
    }
    const ph = new Set(locales.filter((l) => typeof cats[l].get(key) === 'string').map((l) => placeholders(cats[l].get(key))))
    if (ph.size > 1) errors.push(`catalogues: ${key} has different {placeholders} per locale`)
  }
  // keys the code uses literally
  const KEY_USE = /(?<![\w$])(?:\$?t|\$?te|\$?tm)\(\s*(['"`])([\w-]+(?:\.[\w-]+)+)\1|\bkeypath="([\w-]+(?:\.[\w-]+)+)"/g
  for (const file of walkFiles(SRC, ['.vue', '.ts'])) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(KEY_USE)) {
      const key = m[2] ?? m[3]
      const line = text.slice(0, m.index).split('\n').length
      for (const l of locales) {
        // a key may name a whole group (tm('area.group')) as well as a message
        if (!cats[l].has(key) && ![...cats[l].keys()].some((k) => k.startsWith(key + '.')))
          errors.push(`${rel(file)}:${line}: key ${key} is not in the ${l} catalogue`)
      }
    }
  }
}

const errors = []
checkCatalogues(errors)
checkTemplates(errors)
if (errors.length) {
  console.error(`i18n check failed (${errors.length}):\n` + errors.map((e) => '  ' + e).join('\n'))
  process.exit(1)
}
console.log('i18n check: catalogues agree, every key used exists, no raw text in templates outside the allow-list')
