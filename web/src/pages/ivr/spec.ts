import type { InjectionKey, Ref } from 'vue'
import type { components } from '../../api/schema'

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
  label: string
  kind: FieldKind
  required?: boolean
  choices?: string[]
  hint?: string
}

const P = (key: string, label: string): FieldSpec => ({ key, label, kind: 'prompts' })
const N = (key: string, label: string, required = false): FieldSpec => ({ key, label, kind: 'node', required })
const T = (key: string, label: string, required = false, hint?: string): FieldSpec => ({ key, label, kind: 'text', required, hint })
const NUM = (key: string, label: string): FieldSpec => ({ key, label, kind: 'number' })
const J = (key: string, label: string, hint?: string): FieldSpec => ({ key, label, kind: 'json', hint })
const D = (key: string, label: string): FieldSpec => ({ key, label, kind: 'digits' })

export const NODE_TYPES: Record<string, { title: string; fields: FieldSpec[]; template: IvrNode }> = {
  play: {
    title: 'Play prompt',
    fields: [P('prompts', 'Prompts'), { key: 'barge_in', label: 'Keys interrupt (barge-in)', kind: 'bool' }, NUM('repeat', 'Times'), N('next', 'Then')],
    template: { type: 'play', prompts: [{ text: 'Hello' }] },
  },
  menu: {
    title: 'Menu',
    fields: [P('prompt', 'Prompt'), D('options', 'Keys'), P('invalid_prompt', 'Invalid key prompt'), P('timeout_prompt', 'No key prompt'),
      NUM('timeout_s', 'Wait for a key (s)'), NUM('retries', 'Retries'), N('default', 'After the retries'), T('store', 'Store the key in variable')],
    template: { type: 'menu', prompt: [{ text: 'For … press 1.' }], options: {} },
  },
  collect: {
    title: 'Collect digits',
    fields: [P('prompt', 'Prompt'), T('store', 'Store in variable', true), NUM('min_digits', 'Min digits'), NUM('max_digits', 'Max digits'),
      T('terminator', 'End key'), NUM('timeout_s', 'First digit timeout (s)'), NUM('inter_digit_timeout_s', 'Between digits (s)'),
      T('pattern', 'Valid when matching (regex)'), P('invalid_prompt', 'Invalid prompt'), P('timeout_prompt', 'No input prompt'),
      NUM('retries', 'Retries'), N('next', 'Then'), N('on_failure', 'On failure')],
    template: { type: 'collect', prompt: [{ text: 'Enter your account number, then hash.' }], store: 'account' },
  },
  condition: {
    title: 'Condition',
    fields: [{ key: 'rules', label: 'Rules (the first that holds wins)', kind: 'rules' }, N('default', 'Otherwise', true)],
    template: { type: 'condition', rules: [], default: '' },
  },
  lookup: {
    title: 'Data lookup',
    fields: [T('name', 'Hook name', true), J('args', 'Arguments', '{"account": "{account}"}'), T('store', 'Store the result in', true),
      NUM('timeout_s', 'Timeout (s)'), N('next', 'Then'), N('on_error', 'On error')],
    template: { type: 'lookup', name: 'balance', store: 'balance', args: {} },
  },
  queue: {
    title: 'Queue',
    fields: [{ key: 'queue_id', label: 'Queue', kind: 'queue', required: true }, NUM('priority', 'Priority'), J('skills', 'Skills needed', '{"billing": 50}'),
      P('intro', 'Intro'), P('music', 'Music on hold'),
      { key: 'announce', label: 'Position announcements', kind: 'periodic', hint: 'You are number {position} in the queue. Your expected wait is about {wait_min} minutes.' },
      { key: 'offer', label: 'Periodic offer', kind: 'periodic', hint: 'To be called back, press 1. To leave a voicemail, press 2.' },
      D('keys', 'Keys that leave the queue'), NUM('max_wait_s', 'Max wait (s)'), N('overflow', 'After max wait')],
    template: { type: 'queue', queue_id: '', music: [{ builtin: 'moh' }] },
  },
  voicemail: {
    title: 'Voicemail',
    fields: [T('mailbox', 'Mailbox', true), P('greeting', 'Greeting'), { key: 'beep', label: 'Beep before recording', kind: 'bool' },
      NUM('max_s', 'Max length (s)'), NUM('silence_s', 'End after silence (s, 0: never)'), T('end_key', 'End key'), P('thanks', 'Thanks'), N('next', 'Then'),
      { key: 'queue_id', label: 'Deliver to queue (default: the mailbox / the call\'s queue)', kind: 'queue' },
      { key: 'agent_id', label: 'Personal mailbox of (offered to this agent first)', kind: 'agent' },
      { key: 'notify_email', label: 'Notify by email', kind: 'list', hint: 'team@example.com, …' },
      { key: 'notify_sms', label: 'Notify by SMS', kind: 'list', hint: '+8613800138000, …' }],
    template: { type: 'voicemail', mailbox: 'general', greeting: [{ text: 'Please leave a message after the tone.' }] },
  },
  callback: {
    title: 'Callback request',
    fields: [{ key: 'queue_id', label: 'Callback queue', kind: 'queue' }, T('number_var', 'Number from variable (default: caller)'), P('confirm', 'Confirmation'),
      N('next', 'Then'), N('on_failure', 'No usable number')],
    template: { type: 'callback' },
  },
  transfer: {
    title: 'Transfer',
    fields: [{ key: 'kind', label: 'To', kind: 'choice', choices: ['queue', 'agent', 'external'], required: true }, T('target', 'Target', true), P('prompt', 'Prompt')],
    template: { type: 'transfer', kind: 'external', target: '' },
  },
  speech_menu: {
    title: 'Speech menu',
    fields: [P('prompt', 'Prompt'), { key: 'branches', label: 'Topics', kind: 'branches' }, T('hook', 'FAQ match hook'),
      NUM('min_confidence', 'Min confidence'), D('options', 'Keys'), P('no_match_prompt', 'Not understood prompt'), NUM('timeout_s', 'Listen (s)'),
      NUM('retries', 'Retries'), T('language', 'Language'), N('after_answer', 'After an FAQ answer'), N('default', 'Otherwise'), T('store', 'Store the topic in')],
    template: { type: 'speech_menu', prompt: [{ text: 'Please say what you are calling about.' }], branches: [] },
  },
  hangup: {
    title: 'Hang up',
    fields: [P('prompt', 'Goodbye prompt'), T('reason', 'Reason')],
    template: { type: 'hangup' },
  },
  goto: { title: 'Go to', fields: [N('target', 'Node', true)], template: { type: 'goto', target: '' } },
  set: {
    title: 'Set variables',
    fields: [J('variables', 'Variables', '{"lang": "en"}'), N('next', 'Then', true)],
    template: { type: 'set', variables: { lang: 'en' }, next: '' },
  },
}

export function newFlowDefinition(name: string): FlowDefinition {
  return {
    name,
    start: 'welcome',
    settings: { timezone: 'UTC', return_key: '0' },
    nodes: {
      welcome: { type: 'play', label: 'Welcome', prompts: [{ text: `Welcome to ${name}.` }], next: 'goodbye' },
      goodbye: { type: 'hangup', label: 'Goodbye', prompt: [{ text: 'Goodbye.' }] },
    },
  }
}
