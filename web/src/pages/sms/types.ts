// Shapes of the SMS channel's API (channels/sms/schemas.py), from the generated schema.d.ts.
import type { components } from '../../api/schema'

type S = components['schemas']

export type SmsRecord = S['SmsRecord']
export type SmsStatus = SmsRecord['status']
export type SmsConversation = S['SmsConversation']
export type BulkCounts = S['SmsBulkCounts']
export type BulkJob = S['SmsBulkJob']
export type KeywordRule = S['KeywordRule']
export type KeywordAction = KeywordRule['action']
export type OptOut = S['OptOut']
export type SmsGatewayStatus = S['SmsGatewayStatus']
export type SmsLogEntry = SmsRecord

/** The `sms_status` push on /desk (Socket.IO, not in the OpenAPI document). */
export interface SmsStatusEvent {
  sms_id: string
  conversation_id: string
  message_id: string | null
  status: SmsStatus
  error: string | null
}
