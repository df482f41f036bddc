// Shapes of the email channel's API (channels/email/schemas.py), from the generated schema.d.ts.
import type { components } from '../../api/schema'

type S = components['schemas']

export type EmailView = S['EmailView']
export type QuarantinedAttachment = S['QuarantinedAttachment']
export type EmailTemplate = S['EmailTemplate']
export type EmailTemplates = S['EmailTemplates']
export type RenderedTemplate = S['RenderedTemplate']
export type EmailReply = S['EmailReply']
export type EmailBulkJob = S['EmailBulkJob']
export type EmailBulkJobs = S['EmailBulkJobs']
