import type { InjectionKey, Ref } from 'vue'
import type { components } from '../../api/schema'
import { currentTimeZone, t, te } from '../../i18n'

// IVR flow types and the per-node-type form specification of the editor (voice/ivr/flow.py). The
// API objects come from the generated schema.d.ts (voice/ivr/schemas.py); a flow's definition is
// free-form JSON there, typed here for the editor.

type S = components['schemas']

export interface PromptRef {
  text?: string
  file?: string
  builtin?: 'moh'
  voice?: string
}

/** A text-to-speech voice a prompt may name (GET /api/ivr/voices): id is `<engine>:<voice>`. */
export type TtsVoice = S['TtsVoice']
export type TtsVoices = S['TtsVoices']

/** The voices, provided by the IVR page to every prompt list of the flow. */
export const IVR_VOICES: InjectionKey<Ref<TtsVoice[]>> = Symbol('ivr-voices')
/** The agents a node may name (a personal voicemail box), provided by the IVR page. */
export const IVR_AGENTS: InjectionKey<Ref<{ id: string; name: string }[]>> = Symbol('ivr-agents')

export type IvrNode = { type: string; label?: string } & Record<string, unknown>

export interface FlowDefinition {
  name: string
  start: string
  settings?: { timezone?: string; voice?: string | null; language?: string | null; return_key?: string | null; agent_entries?: string[] }
  nodes: Record<string, IvrNode>
}

export type Problem = S['FlowProblem']

/** A flow problem in the reader's language (`ivr.problem.<code>` with its parameters; a node
 * type by its title, a list of nodes joined by the locale's separator); a code this build does
 * not know shows the server's English message. */
export function problemText(p: Pick<Problem, 'message'> & Partial<Pick<Problem, 'code' | 'params'>>): string {
  const params: Record<string, unknown> = { ...(p.params ?? {}) }
  // a shape error pydantic names by a type this build has no words for: said generally, with its detail
  const key = p.code?.startsWith('schema.') && !te(`ivr.problem.${p.code}`) ? 'ivr.problem.schema.other' : `ivr.problem.${p.code}`
  if (!p.code || !te(key)) return p.message
  if (typeof params.type === 'string') params.type = nodeTypeTitle(params.type)
  if (Array.isArray(params.nodes)) params.nodes = params.nodes.join(t('common.listSep'))
  return t(key, params)
}
export type PromptFile = S['PromptFile']
export type FlowDetail = Omit<S['FlowDetail'], 'definition'> & { definition: FlowDefinition }
export type FlowSummary = S['FlowSummary']

export interface Test { type: string; [k: string]: unknown }
export interface Rule { when: Test[]; next: string; negate?: boolean }

export type FieldKind =
  | 'prompts' | 'node' | 'digits' | 'text' | 'number' | 'bool' | 'json' | 'queue' | 'choice' | 'rules' | 'branches' | 'periodic'
  | 'list' | 'agent'

export interface FieldSpec {
  key: string
  kind: FieldKind
  required?: boolean
  choices?: string[]
  /** An example shown in the empty input (JSON, addresses, numbers: the same in every language). */
  hint?: string
}

// A field's label is `ivr.nodeTypes.<type>.fields.<key>` in the catalogues, a type's name
// `ivr.nodeTypes.<type>.title`; texts a caller hears in a new node come from `….defaults.<key>`.
const P = (key: string): FieldSpec => ({ key, kind: 'prompts' })
const N = (key: string, required = false): FieldSpec => ({ key, kind: 'node', required })
const T = (key: string, required = false): FieldSpec => ({ key, kind: 'text', required })
const NUM = (key: string): FieldSpec => ({ key, kind: 'number' })
const J = (key: string, hint?: string): FieldSpec => ({ key, kind: 'json', hint })
const D = (key: string): FieldSpec => ({ key, kind: 'digits' })
/** A prompt list saying the node type's default text (in the user's language). */
const say = (type: string, key: string): PromptRef[] => [{ text: t(`ivr.nodeTypes.${type}.defaults.${key}`) }]

export const NODE_TYPES: Record<string, { fields: FieldSpec[]; template: () => IvrNode }> = {
  play: {
    fields: [P('prompts'), { key: 'barge_in', kind: 'bool' }, NUM('repeat'), N('next')],
    template: () => ({ type: 'play', prompts: say('play', 'prompt') }),
  },
  menu: {
    fields: [P('prompt'), D('options'), P('invalid_prompt'), P('timeout_prompt'), NUM('timeout_s'), NUM('retries'), N('default'), T('store')],
    template: () => ({ type: 'menu', prompt: say('menu', 'prompt'), options: {} }),
  },
  collect: {
    fields: [P('prompt'), T('store', true), NUM('min_digits'), NUM('max_digits'), T('terminator'), NUM('timeout_s'),
      NUM('inter_digit_timeout_s'), T('pattern'), P('invalid_prompt'), P('timeout_prompt'), NUM('retries'), N('next'), N('on_failure')],
    template: () => ({ type: 'collect', prompt: say('collect', 'prompt'), store: 'account' }),
  },
  condition: {
    fields: [{ key: 'rules', kind: 'rules' }, N('default', true)],
    template: () => ({ type: 'condition', rules: [], default: '' }),
  },
  lookup: {
    fields: [T('name', true), J('args', '{"account": "{account}"}'), T('store', true), NUM('timeout_s'), N('next'), N('on_error')],
    template: () => ({ type: 'lookup', name: 'balance', store: 'balance', args: {} }),
  },
  queue: {
    fields: [{ key: 'queue_id', kind: 'queue', required: true }, NUM('priority'), J('skills', '{"billing": 50}'), P('intro'), P('music'),
      { key: 'announce', kind: 'periodic' }, { key: 'offer', kind: 'periodic' }, D('keys'), NUM('max_wait_s'), N('overflow')],
    template: () => ({ type: 'queue', queue_id: '', music: [{ builtin: 'moh' }] }),
  },
  voicemail: {
    fields: [T('mailbox', true), P('greeting'), { key: 'beep', kind: 'bool' }, NUM('max_s'), NUM('silence_s'), T('end_key'), P('thanks'), N('next'),
      { key: 'queue_id', kind: 'queue' }, { key: 'agent_id', kind: 'agent' },
      { key: 'notify_email', kind: 'list', hint: 'team@example.com, …' }, { key: 'notify_sms', kind: 'list', hint: '+8613800138000, …' }],
    template: () => ({ type: 'voicemail', mailbox: 'general', greeting: say('voicemail', 'greeting') }),
  },
  callback: {
    fields: [{ key: 'queue_id', kind: 'queue' }, T('number_var'), P('confirm'), N('next'), N('on_failure')],
    template: () => ({ type: 'callback' }),
  },
  transfer: {
    fields: [{ key: 'kind', kind: 'choice', choices: ['queue', 'agent', 'external'], required: true }, T('target', true), P('prompt')],
    template: () => ({ type: 'transfer', kind: 'external', target: '' }),
  },
  speech_menu: {
    fields: [P('prompt'), { key: 'branches', kind: 'branches' }, T('hook'), NUM('min_confidence'), D('options'), P('no_match_prompt'),
      NUM('timeout_s'), NUM('retries'), T('language'), N('after_answer'), N('default'), T('store')],
    template: () => ({ type: 'speech_menu', prompt: say('speech_menu', 'prompt'), branches: [] }),
  },
  hangup: { fields: [P('prompt'), T('reason')], template: () => ({ type: 'hangup' }) },
  goto: { fields: [N('target', true)], template: () => ({ type: 'goto', target: '' }) },
  set: {
    fields: [J('variables', '{"lang": "en"}'), N('next', true)],
    template: () => ({ type: 'set', variables: { lang: 'en' }, next: '' }),
  },
}

/** A node type's name in the user's language (an unknown type: as written). */
export function nodeTypeTitle(type: string): string {
  return te(`ivr.nodeTypes.${type}.title`) ? t(`ivr.nodeTypes.${type}.title`) : type
}

/** A field's label in the user's language. */
export function fieldLabel(type: string, key: string): string {
  return te(`ivr.nodeTypes.${type}.fields.${key}`) ? t(`ivr.nodeTypes.${type}.fields.${key}`) : key
}

/** The text a periodic queue message (announce, offer) says when it is switched on. */
export function periodicDefault(type: string, key: string): string {
  return te(`ivr.nodeTypes.${type}.defaults.${key}`) ? t(`ivr.nodeTypes.${type}.defaults.${key}`) : ''
}

export function newFlowDefinition(name: string): FlowDefinition {
  return {
    name,
    start: 'welcome',
    // business hours in the admin's own zone (the browser's; Asia/Shanghai when it tells none)
    settings: { timezone: currentTimeZone(), return_key: '0' },
    nodes: {
      welcome: { type: 'play', label: t('ivr.newFlowDefaults.welcomeLabel'), prompts: [{ text: t('ivr.newFlowDefaults.welcome', { name }) }], next: 'goodbye' },
      goodbye: { type: 'hangup', label: t('ivr.newFlowDefaults.goodbyeLabel'), prompt: [{ text: t('ivr.newFlowDefaults.goodbye') }] },
    },
  }
}
