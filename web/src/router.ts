import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import type { Permission } from './api/types'
import { ensureMe, homePath } from './session'
import { t } from './i18n'

declare module 'vue-router' {
  interface RouteMeta {
    perm?: Permission
    public?: boolean
    /** the page's title: a catalogue key (titles.*) */
    title?: string
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./pages/LoginPage.vue'), meta: { public: true, title: 'titles.signIn' } },
  { path: '/desk', component: () => import('./pages/desk/DeskPage.vue'), meta: { perm: 'desk', title: 'titles.desk' } },
  {
    path: '/wallboard',
    component: () => import('./pages/wallboard/WallboardPage.vue'),
    meta: { perm: 'wallboard', title: 'titles.wallboard' },
  },
  {
    path: '/contacts',
    component: () => import('./pages/contacts/ContactsPage.vue'),
    meta: { perm: 'contacts', title: 'titles.contacts' },
  },
  { path: '/account/sessions', component: () => import('./pages/account/SessionsPage.vue'), meta: { title: 'titles.sessions' } },
  { path: '/admin', redirect: '/admin/users' },
  { path: '/admin/users', component: () => import('./pages/admin/UsersPage.vue'), meta: { perm: 'admin', title: 'titles.users' } },
  { path: '/admin/queues', component: () => import('./pages/admin/QueuesPage.vue'), meta: { perm: 'admin', title: 'titles.queues' } },
  { path: '/admin/skills', component: () => import('./pages/admin/SkillsPage.vue'), meta: { perm: 'admin', title: 'titles.skills' } },
  { path: '/admin/texts', component: () => import('./pages/admin/TextsPage.vue'), meta: { perm: 'admin', title: 'titles.texts' } },
  {
    path: '/admin/calendars',
    component: () => import('./pages/admin/CalendarsPage.vue'),
    meta: { perm: 'admin', title: 'titles.calendars' },
  },
  { path: '/admin/ivr', component: () => import('./pages/ivr/IvrPage.vue'), meta: { perm: 'automation', title: 'titles.ivr' } },
  {
    path: '/sms/bulk',
    component: () => import('./pages/sms/SmsBulkPage.vue'),
    meta: { perm: 'bulk_send', title: 'titles.smsBulk' },
  },
  {
    path: '/email/bulk',
    component: () => import('./pages/email/EmailBulkPage.vue'),
    meta: { perm: 'bulk_send', title: 'titles.emailBulk' },
  },
  {
    path: '/sms/keywords',
    component: () => import('./pages/sms/SmsKeywordsPage.vue'),
    meta: { perm: 'bulk_send', title: 'titles.smsKeywords' },
  },
  // fax channel (web/src/pages/fax)
  { path: '/fax', component: () => import('./pages/fax/FaxStorePage.vue'), meta: { perm: 'desk', title: 'titles.faxStore' } },
  { path: '/fax/send', component: () => import('./pages/fax/FaxSendPage.vue'), meta: { perm: 'desk', title: 'titles.faxSend' } },
  // fax-on-demand library: desk (preview, send) or automation (edit); the page checks which
  { path: '/fax/library', component: () => import('./pages/fax/FaxLibraryPage.vue'), meta: { title: 'titles.faxLibrary' } },
  { path: '/kb', component: () => import('./pages/kb/KbPage.vue'), meta: { perm: 'kb', title: 'titles.kb' } },
  // workflows (tickets, work orders, rules, SLA)
  { path: '/tickets', component: () => import('./pages/workflows/TicketsPage.vue'), meta: { perm: 'tickets', title: 'titles.tickets' } },
  { path: '/tickets/:id', component: () => import('./pages/workflows/TicketDetail.vue'), meta: { perm: 'tickets', title: 'titles.ticket' } },
  { path: '/workorders', component: () => import('./pages/workflows/WorkOrdersPage.vue'), meta: { title: 'titles.workOrders' } },
  {
    path: '/workorders/report',
    component: () => import('./pages/workflows/ReportPage.vue'),
    meta: { perm: 'reports', title: 'titles.workOrderReport' },
  },
  { path: '/workorders/:id', component: () => import('./pages/workflows/WorkOrderDetail.vue'), meta: { title: 'titles.workOrder' } },
  { path: '/admin/rules', component: () => import('./pages/workflows/RulesPage.vue'), meta: { perm: 'automation', title: 'titles.rules' } },
  {
    path: '/admin/departments',
    component: () => import('./pages/workflows/DepartmentsPage.vue'),
    meta: { perm: 'admin', title: 'titles.departments' },
  },
  {
    path: '/admin/sla',
    component: () => import('./pages/workflows/SlaPoliciesPage.vue'),
    meta: { perm: 'automation', title: 'titles.sla' },
  },
  // call recordings (voice/calls/recordings.py): supervisors all, agents their own; the page checks
  { path: '/recordings', component: () => import('./pages/recordings/RecordingsPage.vue'), meta: { title: 'titles.recordings' } },
  // call records (voice/calls/call_records.py): the list for supervisors; one call for whoever may
  // see its conversation (the API answers 404 otherwise)
  { path: '/calls', component: () => import('./pages/calls/CallsPage.vue'), meta: { perm: 'supervise', title: 'titles.calls' } },
  { path: '/calls/:id', component: () => import('./pages/calls/CallPage.vue'), meta: { title: 'titles.call' } },
  { path: '/no-access', component: () => import('./pages/NoAccessPage.vue'), meta: { title: 'titles.noAccess' } },
  { path: '/', redirect: () => homePath() },
  { path: '/:pathMatch(.*)*', redirect: () => homePath() },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  let user = null
  try {
    user = await ensureMe()
  } catch {
    // Server unreachable: let public pages render, others go to login with a message.
    if (!to.meta.public) return { path: '/login', query: { next: to.fullPath } }
    return true
  }
  if (to.meta.public) {
    if (user && to.path === '/login') return homePath(user)
    return true
  }
  if (!user) return { path: '/login', query: { next: to.fullPath } }
  if (to.meta.perm && !user.permissions.includes(to.meta.perm)) {
    const home = homePath(user)
    return home === to.path ? true : home
  }
  return true
})

/** The tab's title in the user's language (again when the language changes: App.vue). */
export function pageTitle(title: string | undefined): string {
  return title ? `${t(title)} · ${t('common.appName')}` : t('common.appName')
}
router.afterEach((to) => {
  document.title = pageTitle(to.meta.title)
})
