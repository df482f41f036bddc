// Socket.IO namespace /widget for the customer, authenticated by the widget token.
import { io, type Socket } from 'socket.io-client'

export function connectWidget(token: string): Socket {
  return io('/widget', { auth: { token }, withCredentials: false })
}
