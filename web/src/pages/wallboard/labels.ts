// Names the wallboard shows for codes, in the user's language.
import { t, te } from '../../i18n'

/** An agent-state badge: the desk's names (English keeps the codes it always showed: not_ready). */
export function stateBadge(s: string): string {
  if (te(`common.agentStateBadge.${s}`)) return t(`common.agentStateBadge.${s}`)
  return te(`common.agentStates.${s}`) ? t(`common.agentStates.${s}`) : s
}
