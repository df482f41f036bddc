// Cached reference data shared by several pages.
import { api } from './client'
import type { CustomField, Directory } from './types'

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
let directoryP: Promise<Directory> | null = null
/** The queues and agents people pick from (``/api/directory``, readable by every signed-in user;
 * agents' states only for the desk and supervisors). ``refresh`` for live states (transfer). */
export function directory(refresh = false): Promise<Directory> {
  if (!directoryP || refresh)
    directoryP = api.get<Directory>('/api/directory').catch((e) => {
      directoryP = null
      throw e
    })
  return directoryP
}

/** Agents for owner pickers and names. */
export async function agentDirectory(): Promise<AgentRef[]> {
  try {
    return (await directory()).agents.map((a) => ({ id: a.id, name: a.display_name }))
  } catch {
    return []
  }
}
