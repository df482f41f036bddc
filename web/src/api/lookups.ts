// Cached reference data shared by several pages.
import { api } from './client'
import type { CustomField, User, UserBrief, Wallboard } from './types'

let customFieldsP: Promise<CustomField[]> | null = null
export function customFields(refresh = false): Promise<CustomField[]> {
  if (!customFieldsP || refresh)
    customFieldsP = api.get<CustomField[]>('/api/custom-fields').catch(() => {
      customFieldsP = null
      return []
    })
  return customFieldsP
}

export interface AgentRef {
  id: string
  name: string
}
let agentsP: Promise<AgentRef[]> | null = null
/**
 * Agents for owner pickers and names. The contract has no agent directory readable by agents:
 * use /api/users (admin) or the wallboard (supervisors); otherwise an empty list.
 */
export function agentDirectory(): Promise<AgentRef[]> {
  if (!agentsP)
    agentsP = api
      .get<(User | UserBrief)[]>('/api/users', undefined, { quiet401: true })
      .then((us) => us.filter((u) => u.roles.includes('agent') || u.roles.includes('supervisor')).map((u) => ({ id: u.id, name: u.display_name })))
      .catch(() =>
        api
          .get<Wallboard>('/api/wallboard', undefined, { quiet401: true })
          .then((w) => w.agents.map((a) => ({ id: a.id, name: a.display_name })))
          .catch(() => []),
      )
  return agentsP
}
