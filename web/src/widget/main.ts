import { createApp } from 'vue'
import WidgetApp from './WidgetApp.vue'
import './widget.css'

createApp(WidgetApp).mount('#widget')
