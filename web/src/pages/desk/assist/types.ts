// assist/ (ASSIST-1): live FAQ suggestions, entities, summary, category suggestions
// (assist/schemas.py), from the generated schema.d.ts.
import type { components } from '../../../api/schema'

type S = components['schemas']

export type AssistSuggestion = S['AssistSuggestion']
export type AssistSuggestions = S['AssistSuggestions']
export type AssistEntity = S['AssistEntity']
export type AssistPanelData = S['AssistPanel']
export type InsertResult = S['InsertedAnswer']
export type CategorySuggestions = S['CategorySuggestions']
