// The job list of a bulk page: loaded from the API, kept live by the channel's desk event, and
// polled every few seconds while a job is running or scheduled (progress keeps moving if the live
// connection drops). Shared by the SMS, email and fax bulk pages.
import { computed, onMounted, onUnmounted, ref, type Ref } from 'vue'
import { api, ApiError, errorText } from '../../api/client'
import { onDesk, type DeskEvents } from '../../api/socket'

export interface BulkJobLike {
  id: string
  status: string
}

export interface RowError {
  row: number
  msg: string
  [key: string]: unknown
}

export function percent(n: number, total: number): number {
  return total ? Math.round((100 * n) / total) : 0
}

/** The per-row errors of a refused bulk job (422 with `errors: [{row, msg, …}]`). */
export function rowErrorsOf(e: unknown): RowError[] {
  if (!(e instanceof ApiError)) return []
  return (e.errors as unknown as RowError[]).filter((x) => x && typeof x === 'object' && 'row' in x)
}

export function useBulkJobs<J extends BulkJobLike>(
  url: string,
  event: keyof DeskEvents,
  opts: { enabled?: () => boolean; pollMs?: number } = {},
) {
  const jobs = ref([]) as Ref<J[]>
  const error = ref('')
  const active = computed(() => jobs.value.some((j) => j.status === 'running' || j.status === 'scheduled'))
  let off: (() => void) | null = null
  let poller: number | undefined

  async function load() {
    jobs.value = (await api.get<{ items: J[] }>(url)).items
  }

  function upsert(job: J) {
    const i = jobs.value.findIndex((j) => j.id === job.id)
    if (i >= 0) jobs.value[i] = job
    else jobs.value.unshift(job)
  }

  async function act(job: J, what: 'cancel' | 'start') {
    error.value = ''
    try {
      upsert(await api.post<J>(`${url}/${encodeURIComponent(job.id)}/${what}`))
    } catch (e) {
      error.value = errorText(e)
    }
  }

  onMounted(async () => {
    if (opts.enabled && !opts.enabled()) return
    off = onDesk(event, ((j: J) => upsert(j)) as never)
    poller = window.setInterval(() => { if (active.value) void load().catch(() => undefined) }, opts.pollMs ?? 2000)
    try {
      await load()
    } catch (e) {
      error.value = errorText(e)
    }
  })
  onUnmounted(() => {
    off?.()
    window.clearInterval(poller)
  })

  return { jobs, error, active, load, upsert, act }
}

/** The submit of a bulk form: busy while it runs, the error and the refused rows when it fails. */
export function useBulkSubmit() {
  const busy = ref(false)
  const error = ref('')
  const rowErrors = ref<RowError[]>([])

  async function run(create: () => Promise<void>) {
    busy.value = true
    error.value = ''
    rowErrors.value = []
    try {
      await create()
    } catch (e) {
      error.value = errorText(e)
      rowErrors.value = rowErrorsOf(e)
    } finally {
      busy.value = false
    }
  }

  return { busy, error, rowErrors, run }
}
