! fortran.f90: Fortran kernels (libfortrankernels.so). gfortran passes
! arguments by reference (the host passes stack arguments or VE
! addresses) unless declared `value`, and appends an underscore to names.

! a(i) = 2 * a(i) + 1 for i = 1..n    (symbol sub1_)
subroutine sub1(a, n)
  implicit none
  integer, intent(in) :: n
  real(8), intent(inout) :: a(n)
  a = 2.0d0 * a + 1.0d0
end subroutine sub1

! x by reference, y by value          (symbol addv_)
integer function addv(x, y)
  implicit none
  integer, intent(in) :: x
  integer, value :: y
  addv = x * 100 + y
end function addv

! sum of an integer array, returned as real(8)   (symbol fsum_)
real(8) function fsum(a, n)
  implicit none
  integer, intent(in) :: n
  integer, intent(in) :: a(n)
  fsum = dble(sum(a))
end function fsum

! A line to unit 6 (stdout) and one to unit 0 (stderr), without FLUSH
! (symbol fortran_print; n by value)
subroutine fortran_print(n) bind(C, name="fortran_print")
  use iso_c_binding, only: c_int
  implicit none
  integer(c_int), value :: n
  write(6, '(a,i0)') 'Fortran kernel: WRITE(6) line ', n
  write(0, '(a,i0)') 'Fortran kernel: WRITE(0) line ', n
end subroutine fortran_print
