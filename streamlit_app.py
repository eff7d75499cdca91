"""vitviz entry point: the navigation (Home, then one page per stage, in the order of the tour)."""

import streamlit as st

from ui.stages import STAGES, home_page

st.navigation([home_page()]
              + [st.Page(s.page, title=s.title, icon=s.icon) for s in STAGES]).run()
