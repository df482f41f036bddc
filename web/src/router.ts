import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import type { Permission } from './api/types'
import { ensureMe, homePath } from './session'

declare module 'vue-router' {
  interface RouteMeta {
    perm?: Permission
    public?: boolean
    title?: string
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./pages/LoginPage.vue'), meta: { public: true, title: 'Sign in' } },
  { path: '/desk', component: () => import('./pages/desk/DeskPage.vue'), meta: { perm: 'desk', title: 'Desk' } },
  {
    path: '/wallboard',
    component: () => import('./pages/wallboard/WallboardPage.vue'),
    meta: { perm: 'wallboard', title: 'Wallboard' },
  },
  {
    path: '/contacts',
    component: () => import('./pages/contacts/ContactsPage.vue'),
    meta: { perm: 'contacts', title: 'Contacts' },
  },
  { path: '/admin', redirect: '/admin/users' },
  { path: '/admin/users', component: () => import('./pages/admin/UsersPage.vue'), meta: { perm: 'admin', title: 'Users' } },
  { path: '/admin/queues', component: () => import('./pages/admin/QueuesPage.vue'), meta: { perm: 'admin', title: 'Queues' } },
  { path: '/admin/skills', component: () => import('./pages/admin/SkillsPage.vue'), meta: { perm: 'admin', title: 'Skills' } },
  { path: '/admin/texts', component: () => import('./pages/admin/TextsPage.vue'), meta: { perm: 'admin', title: 'Texts' } },
  {
    path: '/admin/calendars',
    component: () => import('./pages/admin/CalendarsPage.vue'),
    meta: { perm: 'admin', title: 'Calendars' },
  },
  { path: '/admin/ivr', component: () => import('./pages/ivr/IvrPage.vue'), meta: { perm: 'automation', title: 'IVR flows' } },
  {
    path: '/sms/bulk',
    component: () => import('./pages/sms/SmsBulkPage.vue'),
    meta: { perm: 'bulk_send', title: 'Bulk SMS' },
  },
  {
    path: '/email/bulk',
    component: () => import('./pages/email/EmailBulkPage.vue'),
    meta: { perm: 'bulk_send', title: 'Bulk email' },
  },
  {
    path: '/sms/keywords',
    component: () => import('./pages/sms/SmsKeywordsPage.vue'),
    meta: { perm: 'bulk_send', title: 'SMS keywords' },
  },
  // fax channel (web/src/pages/fax)
  { path: '/fax', component: () => import('./pages/fax/FaxStorePage.vue'), meta: { perm: 'desk', title: 'Fax store' } },
  { path: '/fax/send', component: () => import('./pages/fax/FaxSendPage.vue'), meta: { perm: 'desk', title: 'Send a fax' } },
  // fax-on-demand library: desk (preview, send) or automation (edit); the page checks which
  { path: '/fax/library', component: () => import('./pages/fax/FaxLibraryPage.vue'), meta: { title: 'Fax library' } },
  { path: '/kb', component: () => import('./pages/kb/KbPage.vue'), meta: { perm: 'kb', title: 'Knowledge base' } },
  // workflows (tickets, work orders, rules, SLA)
  { path: '/tickets', component: () => import('./pages/workflows/TicketsPage.vue'), meta: { perm: 'tickets', title: 'Tickets' } },
  { path: '/tickets/:id', component: () => import('./pages/workflows/TicketDetail.vue'), meta: { perm: 'tickets', title: 'Ticket' } },
  { path: '/workorders', component: () => import('./pages/workflows/WorkOrdersPage.vue'), meta: { title: 'Work orders' } },
  {
    path: '/workorders/report',
    component: () => import('./pages/workflows/ReportPage.vue'),
    meta: { perm: 'reports', title: 'Work-order report' },
  },
  { path: '/workorders/:id', component: () => import('./pages/workflows/WorkOrderDetail.vue'), meta: { title: 'Work order' } },
  { path: '/admin/rules', component: () => import('./pages/workflows/RulesPage.vue'), meta: { perm: 'automation', title: 'Rules' } },
  {
    path: '/admin/departments',
    component: () => import('./pages/workflows/DepartmentsPage.vue'),
    meta: { perm: 'admin', title: 'Departments' },
  },
  {
    path: '/admin/sla',
    component: () => import('./pages/workflows/SlaPoliciesPage.vue'),
    meta: { perm: 'automation', title: 'SLA policies' },
  },
  // call recordings (voice/calls/recordings.py): supervisors all, agents their own; the page checks
  { path: '/recordings', component: () => import('./pages/recordings/RecordingsPage.vue'), meta: { title: 'Recordings' } },
  { path: '/no-access', component: () => import('./pages/NoAccessPage.vue'), meta: { title: 'No access' } },
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

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · Contact Hub` : 'Contact Hub'
})
