// List/create/update/delete for one admin collection (GET list, POST, PATCH /{id}, DELETE /{id}).
import { ref } from 'vue'
import { api, errorText } from '../../api/client'
import { toast } from '../../components/toast'
import { t } from '../../i18n'

export function useCrud<T extends { id: string }>(path: string) {
  const items = ref<T[]>([]) as { value: T[] }
  const loading = ref(false)
  const listError = ref('')
  const saveError = ref<unknown>(null)
  const saving = ref(false)

  async function load() {
    loading.value = true
    listError.value = ''
    try {
      const r = await api.get<T[] | { items: T[] }>(path)
      items.value = Array.isArray(r) ? r : r.items
    } catch (e) {
      listError.value = errorText(e)
    } finally {
      loading.value = false
    }
  }

  /** Returns the saved object, or null on error (saveError is set; the form keeps its data). */
  async function save(id: string | null, body: unknown): Promise<T | null> {
    saving.value = true
    saveError.value = null
    try {
      const r = id ? await api.patch<T>(`${path}/${encodeURIComponent(id)}`, body) : await api.post<T>(path, body)
      toast(t('common.saved'), 'ok')
      await load()
      return r
    } catch (e) {
      saveError.value = e
      return null
    } finally {
      saving.value = false
    }
  }

  /** `label`: what is deleted, in the user's language (e.g. t('admin.queues.what', { name })). */
  async function remove(id: string, label: string): Promise<boolean> {
    if (!window.confirm(t('admin.confirmDelete', { what: label }))) return false
    try {
      await api.del(`${path}/${encodeURIComponent(id)}`)
      toast(t('admin.deleted'), 'ok')
      await load()
      return true
    } catch (e) {
      toast(errorText(e), 'error')
      return false
    }
  }

  return { items, loading, listError, saveError, saving, load, save, remove }
}
