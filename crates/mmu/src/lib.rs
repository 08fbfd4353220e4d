//! Guest physical memory, paging and the softmmu TLB.
