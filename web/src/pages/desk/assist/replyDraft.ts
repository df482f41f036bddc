// "Insert into reply": the assist panel asks, the reply box (ReplyBox.vue) fills its text.
import { ref } from 'vue'

export interface InsertRequest {
  conversationId: string
  text: string
  seq: number
}

export const insertRequest = ref<InsertRequest | null>(null)
let seq = 0

export function requestInsert(conversationId: string, text: string) {
  insertRequest.value = { conversationId, text, seq: ++seq }
}
